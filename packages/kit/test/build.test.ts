import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { spawnTracked } from '../../../tools/test/processes.ts'
import { buildWorkers, WorkersBuildError } from '../src/build/build.ts'
import { listWorkers } from '../src/build/list.ts'
import { makeApp, removeApps, sleepyWorker } from './fixtures.ts'

afterAll(removeApps)

function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {}
  const walk = (sub: string) => {
    for (const name of readdirSync(join(dir, sub))) {
      const path = join(sub, name)
      if (statSync(join(dir, path)).isDirectory()) walk(path)
      else out[path] = readFileSync(join(dir, path), 'base64')
    }
  }
  walk('')
  return out
}

describe('buildWorkers', () => {
  it('writes index.mjs and _entry.mjs for any accepted file name, deterministically', async () => {
    const weird = 'server/workers/it\'s a "w" é.ts'
    const app = makeApp({
      'server/workers/alpha.ts': sleepyWorker('alpha', 'import { tag } from \'../lib/tag\'\nconsole.log(tag)'),
      [weird]: sleepyWorker('beta'),
      'server/lib/tag.ts': 'export const tag = 1\n',
    })
    const first = await buildWorkers({ rootDir: app.dir })
    expect(first.workerFiles).toEqual(['server/workers/alpha.ts', weird])
    expect(first.files).toContain('index.mjs')
    expect(first.files).toContain('_entry.mjs')
    expect(first.inputs).toContain(join(app.dir, 'server/lib/tag.ts'))
    const entry = await import(pathToFileURL(join(first.outDir, '_entry.mjs')).href) as { workers: { file: string, load: () => Promise<{ default: { name: string } }> }[] }
    expect(entry.workers.map(w => w.file)).toEqual(first.workerFiles)
    expect((await entry.workers[1]!.load()).default.name).toBe('beta')
    const before = snapshot(first.outDir)
    await buildWorkers({ rootDir: app.dir })
    expect(snapshot(first.outDir)).toEqual(before)
    // Same sources elsewhere: same bytes (no absolute paths in the output).
    const moved = makeApp({})
    cpSync(join(app.dir, 'server'), join(moved.dir, 'server'), { recursive: true })
    const again = await buildWorkers({ rootDir: moved.dir })
    expect(snapshot(again.outDir)).toEqual(before)
  })

  it('fails with the file, the import chain and the alternative for Nitro-only APIs', async () => {
    const app = makeApp({
      'server/workers/orders.ts': `import { defineWorker } from '@czo/kit'\nimport { settings } from '../lib/settings'\nexport default defineWorker('orders', async () => settings())\n`,
      'server/lib/settings.ts': `import { deep } from './deep'\nexport const settings = () => deep()\n`,
      'server/lib/deep.ts': `// useRuntimeConfig() in a comment does not count\nexport const deep = () => useRuntimeConfig().czo\n`,
    })
    const error = await buildWorkers({ rootDir: app.dir }).catch(e => e)
    expect(error).toBeInstanceOf(WorkersBuildError)
    expect(error.message).toContain('server/lib/deep.ts calls useRuntimeConfig(), a Nitro auto-import')
    expect(error.message).toContain('Import chain: server/workers/orders.ts → server/lib/settings.ts → server/lib/deep.ts')
    expect(error.message).toContain('useCzoConfig()')

    app.write('server/lib/deep.ts', `import { useRuntimeConfig } from 'nitropack/runtime'\nexport const deep = () => useRuntimeConfig()\n`)
    const imported = await buildWorkers({ rootDir: app.dir }).catch(e => e)
    expect(imported.message).toContain('server/lib/deep.ts imports "nitropack/runtime"')

    app.write('server/lib/deep.ts', `import { defineEventHandler } from '#imports'\nexport const deep = defineEventHandler(() => 1)\n`)
    expect((await buildWorkers({ rootDir: app.dir }).catch(e => e)).message).toContain('imports "#imports"')

    // A local function of the same name is fine.
    app.write('server/lib/deep.ts', `function useRuntimeConfig() { return { czo: 1 } }\nexport const deep = () => useRuntimeConfig().czo\n`)
    await expect(buildWorkers({ rootDir: app.dir })).resolves.toBeTruthy()
  })

  it('names a worker file without a default export and one with a syntax error', async () => {
    const app = makeApp({ 'server/workers/a.ts': sleepyWorker('a'), 'server/workers/helper.ts': 'export const x = 1\n' })
    await expect(buildWorkers({ rootDir: app.dir })).rejects.toThrow('server/workers/helper.ts: no default export')
    app.write('server/workers/helper.ts', 'export default (\n')
    await expect(buildWorkers({ rootDir: app.dir })).rejects.toThrow(/server\/workers\/helper\.ts:2:\d+: /)
  })

  it('lists workers with file, queue and effective options', async () => {
    const app = makeApp({ 'server/workers/a.ts': sleepyWorker('alpha'), 'server/workers/b.ts': `import { defineWorker } from '@czo/kit'\nexport default defineWorker('beta', async () => 1, { concurrency: 7 })\n` })
    const listed = await listWorkers({ rootDir: app.dir })
    expect(listed.map(w => [w.name, w.file, w.queue, w.options.concurrency])).toEqual([
      ['alpha', 'server/workers/a.ts', 'alpha', 1],
      ['beta', 'server/workers/b.ts', 'beta', 7],
    ])
    expect(listed[1]!.options.lockDuration).toBe(30_000)
  })

  it('runs under plain node from a copy of the output folder', async () => {
    const app = makeApp({ 'server/workers/a.ts': sleepyWorker('alpha') })
    await buildWorkers({ rootDir: app.dir })
    const copy = mkdtempSync(join(tmpdir(), 'czo-copy-'))
    try {
      cpSync(join(app.dir, '.output'), join(copy, '.output'), { recursive: true })
      rmSync(app.dir, { recursive: true, force: true })
      const proc = spawnTracked(process.execPath, [join(copy, '.output/server/workers/index.mjs'), '--help'], { cwd: copy })
      expect(await proc.exited()).toBe(0)
      expect(proc.output()).toContain('Usage: node index.mjs [--workers=a,b]')
    }
    finally {
      rmSync(copy, { recursive: true, force: true })
    }
  })
})
