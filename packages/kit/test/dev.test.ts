import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { startRedisServer, type RedisServer } from '../../../tools/test/redis-server.ts'
import { buildWorkers } from '../src/build/build.ts'
import { startDevWorkers } from '../src/dev/dev-workers.ts'
import { MissingBuildError, startBuiltWorkers } from '../src/dev/start-built.ts'
import { workerProcessArgs } from '../src/dev/types.ts'
import type { RunnerLogger } from '../src/runner/logger.ts'
import { closeAll } from '../src/runtime/close.ts'
import { useQueue } from '../src/runtime/queue.ts'
import { makeApp, removeApps, sleepyWorker } from './fixtures.ts'
import { isolateRedis, until } from './helpers.ts'

let redis: RedisServer
beforeAll(async () => {
  redis = await startRedisServer()
})
afterEach(closeAll)
afterAll(async () => {
  await redis.destroy()
  removeApps()
})

function memoryLogger(): RunnerLogger & { lines: string[] } {
  const lines: string[] = []
  return { lines, info: m => void lines.push(m), warn: m => void lines.push(m), error: m => void lines.push(m) }
}

const env = (prefix: string) => ({ ...process.env, NITRO_CZO_REDIS_URL: redis.url, NITRO_CZO_REDIS_PREFIX: prefix })

describe('startDevWorkers (in process)', () => {
  it('runs, reloads on change and on a new worker file, reports build errors, and stops', async () => {
    const prefix = isolateRedis(redis.url)
    const app = makeApp({ 'server/workers/a.ts': sleepyWorker('a') })
    const logger = memoryLogger()
    const handle = await startDevWorkers({ rootDir: app.dir, env: env(prefix), logger, debounceMs: 20, workers: ['a'], shutdownTimeout: 5000 })
    try {
      await handle.ready
      const job = await useQueue<{ n: number }>('a').add('x', { n: 1 })
      await until(async () => Boolean((await useQueue('a').getJob(job.id!))?.returnvalue), 10_000, 'first job')

      app.write('server/workers/a.ts', 'export default (\n')
      await until(() => logger.lines.some(line => line.startsWith('Worker build failed')), 10_000, 'build error')
      app.write('server/workers/a.ts', sleepyWorker('a'))
      await until(() => logger.lines.some(line => line.startsWith('reloaded after a change to server/workers/a.ts')), 10_000, 'reload')
      expect(logger.lines.find(line => line.startsWith('reloaded'))).toMatch(/in \d+ ms \(build \d+ ms, stop \d+ ms, start \d+ ms\)$/)

      // A new worker file is discovered without a restart of the dev command.
      app.write('server/workers/b.ts', sleepyWorker('b'))
      await until(() => logger.lines.filter(line => line.startsWith('reloaded')).length >= 2, 10_000, 'reload for b.ts')
    }
    finally {
      expect(await handle.stop()).toBe(0)
    }
    expect(await handle.exited).toBe(0)
  })

  it('refuses to start when the workers do not build', async () => {
    const app = makeApp({ 'server/workers/a.ts': 'export const notAWorker = 1\n' })
    const logger = memoryLogger()
    await expect(startDevWorkers({ rootDir: app.dir, logger })).rejects.toThrow('the workers do not build')
    expect(logger.lines[0]).toContain('server/workers/a.ts: no default export')
  })
})

describe('startBuiltWorkers (in process)', () => {
  it('says which command builds a missing output', () => {
    const app = makeApp({ 'server/workers/a.ts': sleepyWorker('a') })
    expect(() => startBuiltWorkers({ rootDir: app.dir })).toThrow(MissingBuildError)
    expect(() => startBuiltWorkers({ rootDir: app.dir })).toThrow(`Build it first with \`czo workers:build --cwd ${app.dir}\``)
  })

  it('starts the built process, reports ready, stops it gracefully or by force', async () => {
    const prefix = isolateRedis(redis.url)
    const app = makeApp({ 'server/workers/a.ts': sleepyWorker('a') })
    await buildWorkers({ rootDir: app.dir })
    const handle = startBuiltWorkers({ rootDir: app.dir, env: env(prefix), workers: ['a'], shutdownTimeout: 5000 })
    await handle.ready
    expect(await handle.stop()).toBe(0)

    const slow = startBuiltWorkers({ rootDir: app.dir, env: { ...env(prefix), JOB_MS: '60000' }, workers: ['a'] })
    await slow.ready
    await useQueue<{ n: number }>('a').add('x', { n: 1 })
    await until(async () => (await useQueue('a').getActiveCount()) === 1, 10_000, 'active')
    const stopping = slow.stop()
    await new Promise(resolve => setTimeout(resolve, 1200))
    slow.force()
    expect(await stopping).toBe(3)

    const early = startBuiltWorkers({ rootDir: app.dir, env: env(prefix), workers: ['zzz'] })
    await expect(early.ready).rejects.toThrow('the worker process exited with code 2 before it was ready')
    vi.restoreAllMocks()
  })
})

describe('workerProcessArgs', () => {
  it('passes --workers and the shutdown deadline; a default deadline only when neither the options nor the env set one', () => {
    const layout = { rootDir: '/app' }
    expect(workerProcessArgs({ ...layout, env: {} })).toEqual([])
    expect(workerProcessArgs({ ...layout, workers: ['a', 'b'], shutdownTimeout: 30000, defaultShutdownTimeout: 4000, env: {} })).toEqual(['--workers=a,b', '--shutdown-timeout=30000'])
    expect(workerProcessArgs({ ...layout, defaultShutdownTimeout: 4000, env: {} })).toEqual(['--shutdown-timeout=4000'])
    expect(workerProcessArgs({ ...layout, defaultShutdownTimeout: 4000, env: { CZO_SHUTDOWN_TIMEOUT: '' } })).toEqual(['--shutdown-timeout=4000'])
    expect(workerProcessArgs({ ...layout, defaultShutdownTimeout: 4000, env: { CZO_SHUTDOWN_TIMEOUT: '9000' } })).toEqual([])
    expect(workerProcessArgs({ ...layout, defaultShutdownTimeout: 4000, env: { NITRO_CZO_WORKERS_SHUTDOWN_TIMEOUT: '9000' } })).toEqual([])
  })
})
