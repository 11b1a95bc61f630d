import { EventEmitter } from 'node:events'
import type { ExecutorContext } from '@nx/devkit'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { KitBuild, WorkerProcessHandle } from '../src/kit'

const kit = vi.hoisted(() => ({
  buildWorkers: vi.fn(),
  startDevWorkers: vi.fn(),
  startBuiltWorkers: vi.fn(),
}))
const loadKitBuild = vi.hoisted(() => vi.fn(async (_fromDir: string) => kit as unknown as KitBuild))
vi.mock('../src/kit', () => ({ loadKitBuild }))

const { default: buildExecutor } = await import('../src/executors/build/impl')
const { default: serveExecutor } = await import('../src/executors/serve/impl')
const { default: startExecutor } = await import('../src/executors/start/impl')
const { runUntilExit } = await import('../src/executors/long-running')
const { NX_SHUTDOWN_TIMEOUT, toBuildWorkersOptions, toWorkerProcessOptions } = await import('../src/options')

function executorContext(root = '/ws'): ExecutorContext {
  return {
    root,
    cwd: root,
    isVerbose: false,
    projectName: 'shop',
    targetName: 'workers-serve',
    projectsConfigurations: { version: 2, projects: { shop: { root: 'apps/shop' } } },
    nxJsonConfiguration: {},
    projectGraph: { nodes: {}, dependencies: {} },
  } as unknown as ExecutorContext
}

/** A handle the test drives by hand. */
function fakeHandle() {
  let markReady!: () => void
  let failReady!: (error: Error) => void
  let exit!: (code: number) => void
  const ready = new Promise<void>((resolve, reject) => {
    markReady = resolve
    failReady = reject
  })
  ready.catch(() => {})
  const exited = new Promise<number>((resolve) => {
    exit = resolve
  })
  const handle: WorkerProcessHandle & { stop: ReturnType<typeof vi.fn> } = {
    ready,
    exited,
    stop: vi.fn(async () => {
      exit(0)
      return exited
    }),
  }
  return { handle, markReady, failReady, exit }
}

/** Resolves with the next value of the iterator, or 'pending' if none arrives in `ms`. */
async function nextOrPending<T>(iterator: AsyncIterator<T>, ms = 50): Promise<IteratorResult<T> | 'pending'> {
  return Promise.race([iterator.next(), new Promise<'pending'>(resolve => setTimeout(() => resolve('pending'), ms))])
}

beforeEach(() => {
  vi.clearAllMocks()
})
afterEach(() => {
  vi.restoreAllMocks()
})

describe('option mapping', () => {
  it('maps build options onto buildWorkers, with the project root as rootDir', () => {
    expect(toBuildWorkersOptions({}, executorContext())).toEqual({ rootDir: '/ws/apps/shop' })
    expect(toBuildWorkersOptions({ rootDir: 'apps/other', workersDir: 'jobs', outputDir: 'dist', bundleDependencies: false, sourcemap: false, minify: true }, executorContext()))
      .toEqual({ rootDir: '/ws/apps/other', workersDir: 'jobs', outputDir: 'dist', bundleDependencies: false, sourcemap: false, minify: true })
  })

  it('maps serve/start options, accepting --workers=a,b from the command line', () => {
    const base = { PATH: '/bin', SECRET: 'kept' }
    expect(toWorkerProcessOptions('@czo/nx:serve', {}, executorContext(), base)).toEqual({ rootDir: '/ws/apps/shop', defaultShutdownTimeout: NX_SHUTDOWN_TIMEOUT })
    expect(toWorkerProcessOptions('@czo/nx:serve', { workers: 'orders, emails', shutdownTimeout: '5000', env: { A: '1' } }, executorContext(), base))
      .toEqual({ rootDir: '/ws/apps/shop', workers: ['orders', 'emails'], shutdownTimeout: 5000, defaultShutdownTimeout: NX_SHUTDOWN_TIMEOUT, env: { PATH: '/bin', SECRET: 'kept', A: '1' } })
    expect(toWorkerProcessOptions('@czo/nx:start', { workers: ['orders'], outputDir: 'out' }, executorContext(), base))
      .toEqual({ rootDir: '/ws/apps/shop', workers: ['orders'], outputDir: 'out', defaultShutdownTimeout: NX_SHUTDOWN_TIMEOUT })
  })

  it('gives the worker process a default deadline shorter than Nx\'s kill (about 5 s after a stop); the target\'s own wins', () => {
    expect(NX_SHUTDOWN_TIMEOUT).toBeLessThan(5000)
    const ctx = executorContext()
    expect(toWorkerProcessOptions('@czo/nx:serve', {}, ctx, {}).defaultShutdownTimeout).toBe(NX_SHUTDOWN_TIMEOUT)
    const explicit = toWorkerProcessOptions('@czo/nx:serve', { shutdownTimeout: 30000 }, ctx, {})
    expect(explicit.shutdownTimeout).toBe(30000)
    // The kit applies the default only when neither the target nor the env sets a deadline
    // (workerProcessArgs, packages/kit/test/dev.test.ts).
  })

  it('names the offending option in its errors, without echoing env values', () => {
    const ctx = executorContext()
    expect(() => toWorkerProcessOptions('@czo/nx:serve', { workers: '' }, ctx)).toThrow('@czo/nx:serve: invalid option "workers"')
    expect(() => toWorkerProcessOptions('@czo/nx:serve', { workers: 'a,,b' }, ctx)).toThrow(/option "workers"/)
    expect(() => toWorkerProcessOptions('@czo/nx:serve', { workers: [1] as unknown as string[] }, ctx)).toThrow(/option "workers"/)
    expect(() => toWorkerProcessOptions('@czo/nx:start', { workers: 'a b' }, ctx)).toThrow(/"a b" is not a worker name/)
    expect(() => toWorkerProcessOptions('@czo/nx:start', { shutdownTimeout: -1 }, ctx)).toThrow('@czo/nx:start: invalid option "shutdownTimeout"')
    expect(() => toWorkerProcessOptions('@czo/nx:start', { shutdownTimeout: '10s' }, ctx)).toThrow(/option "shutdownTimeout"/)
    expect(() => toWorkerProcessOptions('@czo/nx:start', { env: 'A=1' as unknown as Record<string, string> }, ctx)).toThrow(/option "env"/)
    let message = ''
    try {
      toWorkerProcessOptions('@czo/nx:start', { env: { TOKEN: { secret: 'hunter2' } as unknown as string } }, ctx)
    }
    catch (error) {
      message = (error as Error).message
    }
    expect(message).toContain('option "env.TOKEN"')
    expect(message).not.toContain('hunter2')
    expect(() => toBuildWorkersOptions({ minify: 'yes' as unknown as boolean }, ctx)).toThrow('@czo/nx:build: invalid option "minify"')
    expect(() => toBuildWorkersOptions({ workersDir: '' }, ctx)).toThrow(/option "workersDir"/)
    expect(() => toBuildWorkersOptions({}, { ...ctx, projectName: 'nope' } as ExecutorContext)).toThrow(/option "rootDir"/)
  })
})

describe('build executor', () => {
  it('calls the kit build with the mapped options and reports success', async () => {
    kit.buildWorkers.mockResolvedValue({ outDir: '/ws/apps/shop/.output/server/workers', entry: '', workerFiles: ['server/workers/a.ts'], files: ['index.mjs'], inputs: [] })
    await expect(buildExecutor({ minify: true }, executorContext())).resolves.toEqual({ success: true })
    expect(loadKitBuild).toHaveBeenCalledWith('/ws/apps/shop')
    expect(kit.buildWorkers).toHaveBeenCalledWith({ rootDir: '/ws/apps/shop', minify: true })
  })

  it('fails (without throwing) when the kit build fails or an option is bad', async () => {
    kit.buildWorkers.mockRejectedValue(new Error('server/workers/a.ts has no default export'))
    await expect(buildExecutor({}, executorContext())).resolves.toEqual({ success: false })
    await expect(buildExecutor({ sourcemap: 'no' as unknown as boolean }, executorContext())).resolves.toEqual({ success: false })
    expect(kit.buildWorkers).toHaveBeenCalledTimes(1)
  })
})

describe('serve and start executors', () => {
  it('serve yields success once ready, stays pending until the worker process exits', async () => {
    const { handle, markReady, exit } = fakeHandle()
    kit.startDevWorkers.mockResolvedValue(handle)
    const iterator = serveExecutor({ workers: 'orders' }, executorContext())[Symbol.asyncIterator]()
    const first = iterator.next()
    expect(await nextOrPending({ next: () => first } as AsyncIterator<unknown>)).toBe('pending')
    markReady()
    expect(await first).toEqual({ done: false, value: { success: true } })
    expect(kit.startDevWorkers).toHaveBeenCalledWith({ rootDir: '/ws/apps/shop', workers: ['orders'], defaultShutdownTimeout: NX_SHUTDOWN_TIMEOUT })
    const second = iterator.next()
    expect(await nextOrPending({ next: () => second } as AsyncIterator<unknown>)).toBe('pending')
    exit(0)
    expect(await second).toEqual({ done: false, value: { success: true, exitCode: 0 } })
    expect(await iterator.next()).toEqual({ done: true, value: undefined })
    expect(handle.stop).not.toHaveBeenCalled()
  })

  it('start reports failure when the build output is missing (the kit throws)', async () => {
    kit.startBuiltWorkers.mockImplementation(() => {
      throw new Error('No worker build at .output/server/workers/index.mjs. Build it first with `czo workers:build`')
    })
    const results = []
    for await (const result of startExecutor({}, executorContext())) results.push(result)
    expect(results).toEqual([{ success: false }])
  })

  it('start reports failure when the worker process exits before it is ready', async () => {
    const { handle, failReady, exit } = fakeHandle()
    kit.startBuiltWorkers.mockReturnValue(handle)
    const iterator = startExecutor({}, executorContext())[Symbol.asyncIterator]()
    const first = iterator.next()
    failReady(new Error('the worker process exited with code 1 before it was ready'))
    exit(1)
    expect((await first).value).toMatchObject({ success: false })
    expect((await iterator.next()).done).toBe(true)
  })

  it('a signal to the executor stops the worker process gracefully, once, and ends the executor', async () => {
    const proc = Object.assign(new EventEmitter(), { send: undefined }) as unknown as NodeJS.Process
    const { handle, markReady } = fakeHandle()
    const onReady = vi.fn()
    const iterator = runUntilExit({ label: 'shop:workers-serve', start: async () => handle, proc, onReady })[Symbol.asyncIterator]()
    markReady()
    expect((await iterator.next()).value).toEqual({ success: true })
    expect(onReady).toHaveBeenCalledTimes(1)
    const last = iterator.next()
    proc.emit('SIGINT')
    proc.emit('SIGTERM')
    expect((await last).value).toEqual({ success: true, exitCode: 0 })
    expect(handle.stop).toHaveBeenCalledTimes(1)
    expect((await iterator.next()).done).toBe(true)
    expect((proc as unknown as EventEmitter).listenerCount('SIGINT')).toBe(0)
    expect((proc as unknown as EventEmitter).listenerCount('SIGTERM')).toBe(0)
  })

  it('a signal that arrives while the worker process is starting stops it as soon as it exists', async () => {
    const proc = new EventEmitter() as unknown as NodeJS.Process
    const { handle } = fakeHandle()
    let release!: () => void
    const started = new Promise<void>((resolve) => {
      release = resolve
    })
    const iterator = runUntilExit({ label: 'x', start: async () => {
      await started
      return handle
    }, proc, onReady: () => {} })[Symbol.asyncIterator]()
    const first = iterator.next()
    await new Promise(resolve => setTimeout(resolve, 10))
    proc.emit('SIGTERM')
    release()
    expect((await first).value).toMatchObject({ exitCode: 0 })
    expect(handle.stop).toHaveBeenCalledTimes(1)
  })

  it('stops the worker process when Nx stops iterating early', async () => {
    const proc = new EventEmitter() as unknown as NodeJS.Process
    const { handle, markReady } = fakeHandle()
    const iterator = runUntilExit({ label: 'x', start: async () => handle, proc, onReady: () => {} })[Symbol.asyncIterator]()
    markReady()
    await iterator.next()
    await iterator.return!(undefined)
    expect(handle.stop).toHaveBeenCalledTimes(1)
  })
})
