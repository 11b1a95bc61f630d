import { describe, expect, it } from 'vitest'

// The public entry points: runtime code must not pull in build-time dependencies.
describe('@czo/kit entry points', () => {
  it('runtime (`@czo/kit`)', async () => {
    const runtime = await import('../src/runtime/index.ts')
    for (const name of ['useCzoConfig', 'useQueue', 'useWorker', 'defineWorker', 'useEvents', 'createEventBus', 'closeAll', 'closeWorkers', 'closeQueues', 'getConnectionCount']) {
      expect(typeof (runtime as Record<string, unknown>)[name], name).toBe('function')
    }
  })

  it('runner (`@czo/kit/runner`)', async () => {
    const runner = await import('../src/runner/index.ts')
    for (const name of ['startWorkers', 'shutdownWorkers', 'runWorkerProcess', 'loadWorkerDefinitions', 'selectWorkers', 'defineWorker']) {
      expect(typeof (runner as Record<string, unknown>)[name], name).toBe('function')
    }
    expect(runner.ExitCode).toEqual({ ok: 0, failure: 1, usage: 2, forced: 3 })
  })

  it('build (`@czo/kit/build`)', async () => {
    const build = await import('../src/build/index.ts')
    for (const name of ['buildWorkers', 'findWorkerFiles', 'listWorkers', 'startDevWorkers', 'startBuiltWorkers', 'spawnWorkerProcess']) {
      expect(typeof (build as Record<string, unknown>)[name], name).toBe('function')
    }
  })

  it('the compiled runtime does not import build-time packages', async () => {
    const { readFileSync, readdirSync } = await import('node:fs')
    const dir = new URL('../src/runtime/', import.meta.url)
    const sources = readdirSync(dir).map(file => readFileSync(new URL(file, dir), 'utf8')).join('\n')
    for (const forbidden of ['esbuild', 'chokidar', 'tinyglobby', 'citty', 'nitropack', '../build/', '../dev/', '../cli/']) {
      expect(sources, forbidden).not.toContain(`from '${forbidden}`)
    }
  })
})
