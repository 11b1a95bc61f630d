import { EventEmitter } from 'node:events'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import { startRedisServer, type RedisServer } from '../../../tools/test/redis-server.ts'
import { ExitCode } from '../src/runner/exit-codes.ts'
import { consoleLogger, type RunnerLogger } from '../src/runner/logger.ts'
import { describeStartupError, runWorkerProcess } from '../src/runner/process.ts'
import { forceShutdown, resetRunner, shutdownWorkers, startWorkers } from '../src/runner/runner.ts'
import { closeAll } from '../src/runtime/close.ts'
import { getConnectionCount } from '../src/runtime/connection.ts'
import { defineWorker } from '../src/runtime/define-worker.ts'
import { useQueue } from '../src/runtime/queue.ts'
import { isolateRedis, until } from './helpers.ts'

let redis: RedisServer
beforeAll(async () => {
  redis = await startRedisServer()
})
afterEach(async () => {
  resetRunner()
  await closeAll()
})
afterAll(async () => {
  await redis.destroy()
})

function memoryLogger(): RunnerLogger & { lines: string[] } {
  const lines: string[] = []
  return {
    lines,
    info: m => void lines.push(`info ${m}`),
    warn: m => void lines.push(`warn ${m}`),
    error: (m, e) => void lines.push(`error ${m}${e ? ` ${e instanceof Error ? e.message : String(e)}` : ''}`),
  }
}

/** Jobs whose processor has started (a job can be active in Redis a moment before). */
const running: string[] = []
const slow = (name: string, ms: number, concurrency = 5) => defineWorker<{ n: number }, number>(name, async (job) => {
  running.push(`${name}:${job.data.n}`)
  await new Promise(resolve => setTimeout(resolve, ms))
  return job.data.n
}, { concurrency })

describe('startWorkers / shutdownWorkers (in process)', () => {
  it('logs a line per worker and a ready line, and lets active jobs finish on shutdown', async () => {
    isolateRedis(redis.url)
    const logger = memoryLogger()
    await startWorkers([slow('s1', 600), defineWorker('s2', async () => 0)], { logger })
    expect(logger.lines.slice(0, 3)).toEqual([
      'info worker "s1" on queue "s1" (concurrency 5)',
      'info worker "s2" on queue "s2" (concurrency 1)',
      `info ready: 2 workers connected to ${redis.url} (pid ${process.pid})`,
    ])
    const queue = useQueue<{ n: number }>('s1')
    await queue.addBulk([1, 2, 3].map(n => ({ name: 'x', data: { n } })))
    await until(async () => (await queue.getActiveCount()) === 3)
    const result = await shutdownWorkers({ timeout: 10_000, logger })
    expect(result).toEqual({ forced: false, requeued: 0 })
    expect(logger.lines).toContain('info shutting down: 3 active jobs to finish, deadline 10000 ms')
    // Workers, queues, then every connection: the process has nothing open any more.
    expect(getConnectionCount()).toBe(0)
    expect(await useQueue('s1').getJobCounts('completed', 'active')).toEqual({ completed: 3, active: 0 })
    expect(shutdownWorkers()).toBe(shutdownWorkers())
  })

  it('hands active jobs back to the queue when the deadline passes or the stop is forced', async () => {
    isolateRedis(redis.url)
    const logger = memoryLogger()
    await startWorkers([slow('stuck', 60_000)], { logger })
    const queue = useQueue<{ n: number }>('stuck')
    await queue.addBulk([1, 2].map(n => ({ name: 'x', data: { n } })))
    await until(() => running.includes('stuck:1') && running.includes('stuck:2'))
    const started = Date.now()
    const result = await shutdownWorkers({ timeout: 1000, logger })
    expect(Date.now() - started).toBeLessThan(1500)
    expect(result).toEqual({ forced: true, requeued: 2 })
    expect(logger.lines).toContain('warn shutdown deadline of 1000 ms passed: handing 2 active jobs back to the queue')
    expect(await useQueue('stuck').getJobCounts('active', 'wait')).toEqual({ active: 0, wait: 2 })

    resetRunner()
    await closeAll()
    isolateRedis(redis.url)
    await startWorkers([slow('stuck2', 60_000, 1)], { logger })
    const queue2 = useQueue<{ n: number }>('stuck2')
    await queue2.add('x', { n: 1 })
    await until(() => running.includes('stuck2:1'))
    const pending = shutdownWorkers({ timeout: 60_000, logger })
    forceShutdown()
    expect(await pending).toEqual({ forced: true, requeued: 1 })
    expect(logger.lines).toContain('warn forced stop: handing 1 active job back to the queue')
  })

  it('says when it is still waiting for Redis', async () => {
    isolateRedis('redis://127.0.0.1:1')
    const logger = memoryLogger()
    const error = vi.spyOn(console, 'error').mockImplementation(() => {})
    const starting = startWorkers([defineWorker('nowhere', async () => 0)], { logger, slowConnectMs: 100 })
    await until(() => logger.lines.includes('warn still waiting for Redis at redis://127.0.0.1:1'))
    const result = await shutdownWorkers({ timeout: 500, logger })
    expect(result.forced).toBe(true)
    expect(logger.lines.some(line => line.includes('could not be handed back'))).toBe(false)
    void starting.catch(() => {})
    error.mockRestore()
  })
})

describe('runWorkerProcess (in process)', () => {
  // Signals and process errors arrive on this emitter instead of the test runner's process.
  let events: EventEmitter
  beforeEach(() => {
    events = new EventEmitter()
  })

  it('starts the definitions and exits 0 on SIGTERM', async () => {
    isolateRedis(redis.url)
    const logger = memoryLogger()
    const exit = vi.fn()
    const done = runWorkerProcess({ definitions: [defineWorker('p1', async () => 1)], argv: [], env: {}, logger, exit, events })
    await until(() => logger.lines.some(line => line.startsWith('info ready')))
    events.emit('SIGTERM', 'SIGTERM')
    // A process manager's repeated SIGTERM is the same request, not a forced stop.
    events.emit('SIGTERM', 'SIGTERM')
    expect(await done).toBe(ExitCode.ok)
    expect(logger.lines.join('\n')).not.toContain('forcing')
    expect(exit).toHaveBeenCalledWith(0)
    expect(logger.lines).toContain('info received SIGTERM: stopping')
  })

  it('forces on a second signal and exits 1 after an uncaught exception', async () => {
    isolateRedis(redis.url)
    const logger = memoryLogger()
    const exit = vi.fn()
    const done = runWorkerProcess({ definitions: [slow('p2', 60_000, 1)], argv: ['--shutdown-timeout=30000'], env: {}, logger, exit, events })
    await until(() => logger.lines.some(line => line.startsWith('info ready')))
    await useQueue<{ n: number }>('p2').add('x', { n: 1 })
    await until(() => running.includes('p2:1'))
    events.emit('uncaughtException', new Error('kaboom'))
    events.emit('SIGINT', 'SIGINT')
    expect(await done).toBe(ExitCode.failure)
    expect(logger.lines).toContain('error uncaught exception: kaboom')
    expect(logger.lines).toContain('warn received SIGINT during shutdown: forcing')
    expect(await useQueue('p2').getJobCounts('active', 'wait')).toEqual({ active: 0, wait: 1 })
  })

  it('exits 1 after an unhandled rejection', async () => {
    isolateRedis(redis.url)
    const logger = memoryLogger()
    const done = runWorkerProcess({ definitions: [defineWorker('p3', async () => 1)], argv: [], env: {}, logger, exit: () => {}, events })
    await until(() => logger.lines.some(line => line.startsWith('info ready')))
    events.emit('unhandledRejection', 'nope')
    expect(await done).toBe(ExitCode.failure)
    expect(logger.lines).toContain('error unhandled rejection: nope')
  })

  it.each([
    [{ argv: ['--help'] }, ExitCode.ok, undefined],
    [{ argv: ['--nope'] }, ExitCode.usage, 'unknown flag --nope'],
    [{ argv: ['--workers=x'] }, ExitCode.usage, 'unknown worker "x". Known workers: ok'],
    [{ argv: [], entries: [] }, ExitCode.usage, 'no workers found'],
    [{ argv: [], entries: [{ file: 'w/bad.ts', load: async () => ({}) }] }, ExitCode.failure, 'w/bad.ts: no default export'],
  ])('ends a bad start with the right exit code (%j)', async (options, code, message) => {
    const logger = memoryLogger()
    const exit = vi.fn()
    const log = vi.spyOn(console, 'log').mockImplementation(() => {})
    const definitions = 'entries' in options ? undefined : [defineWorker('ok', async () => 1)]
    expect(await runWorkerProcess({ definitions, ...options, env: {}, logger, exit, events })).toBe(code)
    expect(exit).toHaveBeenCalledWith(code)
    if (message) expect(logger.lines.join('\n')).toContain(message)
    else expect(log.mock.calls[0]![0]).toContain('Usage: node index.mjs')
    log.mockRestore()
  })

  it('maps other errors to exit 1 with their stack', () => {
    expect(describeStartupError(new TypeError('x'))).toMatchObject({ code: 1, message: expect.stringContaining('TypeError: x') })
    expect(describeStartupError('plain')).toEqual({ code: 1, message: 'plain' })
  })

  it('the console logger prefixes lines', () => {
    const log = vi.spyOn(console, 'log').mockImplementation(() => {})
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {})
    const error = vi.spyOn(console, 'error').mockImplementation(() => {})
    consoleLogger.info('a')
    consoleLogger.warn('b')
    consoleLogger.error('c')
    consoleLogger.error('d', 1)
    expect([log.mock.calls, warn.mock.calls, error.mock.calls]).toEqual([[['[czo] a']], [['[czo] b']], [['[czo] c'], ['[czo] d', 1]]])
    vi.restoreAllMocks()
  })
})
