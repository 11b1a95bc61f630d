import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { spawnTracked, type Spawned } from '../../../tools/test/processes.ts'
import { startRedisServer, type RedisServer } from '../../../tools/test/redis-server.ts'
import { buildWorkers } from '../src/build/build.ts'
import { SIGNAL_REPEAT_MS } from '../src/runner/process.ts'
import { closeAll } from '../src/runtime/close.ts'
import { useQueue } from '../src/runtime/queue.ts'
import { CZO_BIN, makeApp, removeApps, sleepyWorker, type FixtureApp } from './fixtures.ts'
import { clientNames, isolateRedis, until } from './helpers.ts'

let redis: RedisServer
let app: FixtureApp
let entry: string

beforeAll(async () => {
  redis = await startRedisServer()
  app = makeApp({ 'server/workers/a.ts': sleepyWorker('a'), 'server/workers/b.ts': sleepyWorker('b') })
  entry = (await buildWorkers({ rootDir: app.dir })).entry
})
afterEach(async () => {
  await closeAll()
})
afterAll(async () => {
  await redis.destroy()
  removeApps()
})

function startWorkerProcess(prefix: string, args: string[] = [], env: Record<string, string> = {}): Spawned {
  return spawnTracked(process.execPath, [entry, ...args], {
    cwd: app.dir,
    env: { ...process.env, NITRO_CZO_REDIS_URL: redis.url, NITRO_CZO_REDIS_PREFIX: prefix, ...env },
  })
}

const base64 = (name: string) => Buffer.from(name).toString('base64')

describe('the worker process', () => {
  it('--workers=a starts only a: no connection for b', async () => {
    const prefix = isolateRedis(redis.url)
    const proc = startWorkerProcess(prefix, ['--workers=a'])
    await proc.waitFor('ready: 1 worker connected')
    expect(proc.output()).toContain('worker "a" on queue "a" (concurrency 1)')
    expect(proc.output()).not.toContain('worker "b"')
    const names = clientNames(await redis.command('CLIENT', 'LIST'))
    expect(names).toContain(`${prefix}:${base64('a')}`)
    expect(names.some(name => name.includes(base64('b')))).toBe(false)
    const job = await useQueue<{ n: number }>('a').add('x', { n: 1 })
    await until(async () => (await useQueue('a').getJob(job.id!))?.returnvalue?.startsWith('a:1:'), 10_000, 'job a')
    expect(await proc.stop()).toBe(0)
  })

  it('CZO_WORKERS selects too; an unknown name exits 2 listing the known ones', async () => {
    const prefix = isolateRedis(redis.url)
    const viaEnv = startWorkerProcess(prefix, [], { CZO_WORKERS: 'b' })
    await viaEnv.waitFor('ready: 1 worker connected')
    expect(viaEnv.output()).toContain('worker "b"')
    expect(await viaEnv.stop()).toBe(0)

    const unknown = startWorkerProcess(prefix, ['--workers=a,zzz'])
    expect(await unknown.exited()).toBe(2)
    expect(unknown.output()).toContain('--workers: unknown worker "zzz". Known workers: a, b')
    expect(unknown.output()).not.toContain('ready')
  })

  it('signals arriving together are one request to stop, not a forced stop', async () => {
    const prefix = isolateRedis(redis.url)
    const proc = startWorkerProcess(prefix, ['--workers=a'], { JOB_MS: '1000', CONCURRENCY: '2' })
    await proc.waitFor('ready')
    await useQueue<{ n: number }>('a').addBulk([1, 2].map(n => ({ name: 'x', data: { n } })))
    await until(async () => (await useQueue('a').getActiveCount()) === 2, 10_000, '2 active')
    // As from a terminal's Ctrl+C plus a parent forwarding SIGTERM, or Nx signalling a tree twice.
    proc.signal('SIGINT')
    proc.signal('SIGTERM')
    proc.signal('SIGTERM')
    expect(await proc.exited()).toBe(0)
    expect(proc.output()).not.toContain('forcing')
    expect(await useQueue('a').getJobCounts('completed', 'active')).toEqual({ completed: 2, active: 0 })
  })

  it('SIGTERM while 50 jobs are active exits 0 with all 50 completed', async () => {
    const prefix = isolateRedis(redis.url)
    const proc = startWorkerProcess(prefix, ['--workers=a'], { JOB_MS: '1500', CONCURRENCY: '50' })
    await proc.waitFor('ready')
    const queue = useQueue<{ n: number }>('a')
    await queue.addBulk(Array.from({ length: 50 }, (_, n) => ({ name: 'x', data: { n } })))
    await until(async () => (await queue.getActiveCount()) === 50, 10_000, '50 active')
    proc.signal('SIGTERM')
    expect(await proc.exited()).toBe(0)
    expect(proc.output()).toContain('shutting down: 50 active jobs to finish')
    const counts = await queue.getJobCounts('completed', 'active', 'wait', 'failed')
    expect(counts).toEqual({ completed: 50, active: 0, wait: 0, failed: 0 })
  })

  it('after a forced stop, a second worker process completes the interrupted jobs at once', async () => {
    const prefix = isolateRedis(redis.url)
    const first = startWorkerProcess(prefix, ['--workers=a'], { JOB_MS: '60000', CONCURRENCY: '5' })
    await first.waitFor('ready')
    const queue = useQueue<{ n: number }>('a')
    await queue.addBulk(Array.from({ length: 5 }, (_, n) => ({ name: 'x', data: { n } })))
    await until(async () => (await queue.getActiveCount()) === 5, 10_000, '5 active')
    first.signal('SIGTERM')
    await first.waitFor('shutting down')
    // Signals within SIGNAL_REPEAT_MS of each other are one request to stop; a later one forces.
    await new Promise(resolve => setTimeout(resolve, SIGNAL_REPEAT_MS + 100))
    first.signal('SIGINT')
    expect(await first.exited()).toBe(3)
    expect(first.output()).toContain('handing 5 active jobs back to the queue')
    expect(await queue.getJobCounts('active', 'wait')).toEqual({ active: 0, wait: 5 })
    const second = startWorkerProcess(prefix, ['--workers=a'])
    const started = Date.now()
    await until(async () => (await queue.getCompletedCount()) === 5, 10_000, 'requeued jobs completed')
    // BullMQ's stall detection alone would take lockDuration + stalledInterval (about 60 s).
    expect(Date.now() - started).toBeLessThan(5000)
    const results = await Promise.all((await queue.getCompleted()).map(job => job.returnvalue as string))
    expect(results.every(result => result.endsWith(`:${second.child.pid}`))).toBe(true)
    expect(await second.stop()).toBe(0)
  })

  it('the shutdown deadline passes with active jobs: they go back to the queue, exit 3', async () => {
    const prefix = isolateRedis(redis.url)
    const proc = startWorkerProcess(prefix, ['--workers=b', '--shutdown-timeout=1500'], { JOB_MS: '60000', CONCURRENCY: '3' })
    await proc.waitFor('ready')
    const queue = useQueue<{ n: number }>('b')
    await queue.addBulk(Array.from({ length: 3 }, (_, n) => ({ name: 'x', data: { n } })))
    await until(async () => (await queue.getActiveCount()) === 3, 10_000, '3 active')
    const started = Date.now()
    proc.signal('SIGTERM')
    expect(await proc.exited()).toBe(3)
    expect(Date.now() - started).toBeLessThan(2500)
    expect(proc.output()).toContain('shutdown deadline of 1500 ms passed: handing 3 active jobs back to the queue')
    expect(await queue.getJobCounts('active', 'wait')).toEqual({ active: 0, wait: 3 })
  })

  it('with Redis stopped, SIGTERM still exits within the deadline, and a second SIGINT forces at once', async () => {
    const own = await startRedisServer()
    try {
      const env = { NITRO_CZO_REDIS_URL: own.url }
      const bounded = startWorkerProcess('down', ['--shutdown-timeout=2000'], env)
      const forced = startWorkerProcess('down', [], env)
      await bounded.waitFor('ready')
      await forced.waitFor('ready')
      await own.stop()
      await new Promise(resolve => setTimeout(resolve, 300))
      let started = Date.now()
      bounded.signal('SIGTERM')
      expect(await bounded.exited()).not.toBe(1)
      expect(Date.now() - started).toBeLessThan(2000 + 700)

      forced.signal('SIGTERM')
      await forced.waitFor('deadline 25000 ms')
      await new Promise(resolve => setTimeout(resolve, SIGNAL_REPEAT_MS + 100))
      started = Date.now()
      forced.signal('SIGINT')
      expect(await forced.exited()).toBe(3)
      expect(Date.now() - started).toBeLessThan(3000)
      expect(forced.output()).toContain('received SIGINT during shutdown: forcing')
    }
    finally {
      await own.destroy()
    }
  })
})

describe('czo workers:start and bad input', () => {
  it('runs the build output, passing --workers through', async () => {
    const prefix = isolateRedis(redis.url)
    const proc = spawnTracked(process.execPath, [CZO_BIN, 'workers:start', '--cwd', app.dir, '--workers=b'], {
      env: { ...process.env, NITRO_CZO_REDIS_URL: redis.url, NITRO_CZO_REDIS_PREFIX: prefix },
    })
    await proc.waitFor('ready: 1 worker connected')
    const job = await useQueue<{ n: number }>('b').add('x', { n: 7 })
    await until(async () => Boolean((await useQueue('b').getJob(job.id!))?.returnvalue), 10_000, 'job b')
    proc.signal('SIGINT')
    expect(await proc.exited()).toBe(0)
    expect(proc.output()).toContain('received SIGTERM: stopping')
  })

  const run = async (args: string[], env: Record<string, string> = {}, cwd = app.dir) => {
    const proc = spawnTracked(process.execPath, args, { cwd, env: { ...process.env, NITRO_CZO_REDIS_URL: redis.url, NITRO_CZO_REDIS_PREFIX: 'bad-input', ...env } })
    return { code: await proc.exited(), output: proc.output() }
  }

  it.each([
    ['an unknown flag', [CZO_BIN, 'workers:start', '--wrokers=a'], {}, 2, 'unknown flag --wrokers'],
    ['a malformed --shutdown-timeout', [CZO_BIN, 'workers:start', '--shutdown-timeout=soon'], {}, 2, '--shutdown-timeout must be a positive whole number'],
    ['an empty --workers', [CZO_BIN, 'workers:start', '--workers='], {}, 2, '--workers needs a value'],
    ['a malformed CZO_SHUTDOWN_TIMEOUT', [CZO_BIN, 'workers:start'], { CZO_SHUTDOWN_TIMEOUT: '-5' }, 2, 'CZO_SHUTDOWN_TIMEOUT must be'],
    ['a malformed REDIS_URL', [CZO_BIN, 'workers:start'], { NITRO_CZO_REDIS_URL: '', REDIS_URL: 'redis://:s3cret@host:port' }, 1, 'Invalid REDIS_URL: port "port" is not a number'],
    ['an unknown worker in CZO_WORKERS', [CZO_BIN, 'workers:start'], { CZO_WORKERS: 'nope' }, 2, 'CZO_WORKERS: unknown worker "nope". Known workers: a, b'],
    ['an unknown command flag of the process', ['.output/server/workers/index.mjs', '--nope'], {}, 2, 'unknown flag --nope'],
  ])('%s exits non-zero naming the culprit', async (_what, args, env, code, message) => {
    const result = await run(args as string[], env as Record<string, string>)
    expect(result.code).toBe(code)
    expect(result.output).toContain(message)
    expect(result.output).not.toContain('s3cret')
    expect(result.output).not.toContain('ready')
  })

  it('a missing build output names the command that builds it', async () => {
    const empty = makeApp({ 'server/workers/a.ts': sleepyWorker('a') })
    const result = await run([CZO_BIN, 'workers:start', '--cwd', empty.dir])
    expect(result.code).toBe(2)
    expect(result.output).toMatch(/No worker build at .*\.output\/server\/workers\/index\.mjs\. Build it first with `czo workers:build --cwd /)
  })

  it('a malformed worker file fails workers:build naming the file; queued jobs stay queued', async () => {
    const prefix = isolateRedis(redis.url)
    const queue = useQueue<{ n: number }>('a')
    await queue.add('x', { n: 1 })
    const broken = makeApp({ 'server/workers/a.ts': sleepyWorker('a'), 'server/workers/oops.ts': 'export const notAWorker = 1\n' })
    const result = await run([CZO_BIN, 'workers:build', '--cwd', broken.dir], { NITRO_CZO_REDIS_PREFIX: prefix })
    expect(result.code).toBe(1)
    expect(result.output).toContain('server/workers/oops.ts: no default export')
    expect(await queue.getJobCounts('wait', 'active')).toEqual({ wait: 1, active: 0 })

    broken.write('server/workers/oops.ts', `import { defineWorker } from '@czo/kit'\nexport default defineWorker('a', async () => 1)\n`)
    const built = await run([CZO_BIN, 'workers:build', '--cwd', broken.dir])
    expect(built.code).toBe(0)
    const duplicate = await run([join(broken.dir, '.output/server/workers/index.mjs')], { NITRO_CZO_REDIS_PREFIX: prefix }, broken.dir)
    expect(duplicate.code).toBe(1)
    expect(duplicate.output).toContain('Worker "a" is defined twice: in server/workers/a.ts and in server/workers/oops.ts')

    broken.write('server/workers/oops.ts', `import { defineWorker } from '@czo/kit'\nthrow new Error('boom at import')\nexport default defineWorker('c', async () => 1)\n`)
    await run([CZO_BIN, 'workers:build', '--cwd', broken.dir])
    const throws = await run([join(broken.dir, '.output/server/workers/index.mjs')], { NITRO_CZO_REDIS_PREFIX: prefix }, broken.dir)
    expect(throws.code).toBe(1)
    expect(throws.output).toContain('server/workers/oops.ts: threw while loading:\nError: boom at import')
    expect(throws.output).toMatch(/at .*server\/workers\/oops\.ts:2:7/)
    expect(await queue.getJobCounts('wait', 'active')).toEqual({ wait: 1, active: 0 })
  })
})
