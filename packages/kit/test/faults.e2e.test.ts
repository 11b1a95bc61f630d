/**
 * Fault tests of the worker process (issue 6): real processes, real redis-servers, and in every
 * one of them no job is lost. Each job's processor records one member per run in a Redis set
 * (`<prefix>:runs:<queue>`, a random member per run, so a command resent after a reconnect adds
 * nothing), and BullMQ's event stream records each completion: a job run twice, completed twice,
 * or never completed fails the test.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { isAlive, spawnTracked, type Spawned } from '../../../tools/test/processes.ts'
import { startRedisServer, type RedisServer } from '../../../tools/test/redis-server.ts'
import { buildWorkers } from '../src/build/build.ts'
import { closeAll } from '../src/runtime/close.ts'
import { useRedisConnection } from '../src/runtime/connection.ts'
import { useQueue } from '../src/runtime/queue.ts'
import { CZO_BIN, makeApp, removeApps, sleepyWorker, type FixtureApp } from './fixtures.ts'
import { clientNames, isolateRedis, until } from './helpers.ts'

/**
 * A worker that sleeps JOB_MS per job, records the run, and returns `<name>:<n>:<pid>`.
 * LOCK_MS / STALLED_MS shorten BullMQ's lock and stall check (30 s each by default), so that
 * the jobs of a killed process come back in seconds.
 */
function countingWorker(name: string): string {
  return `import { randomUUID } from 'node:crypto'
import { defineWorker, useCzoConfig, useRedisConnection } from '@czo/kit'
const ms = Number(process.env.JOB_MS ?? '0')
const lock = process.env.LOCK_MS ? { lockDuration: Number(process.env.LOCK_MS), stalledInterval: Number(process.env.STALLED_MS ?? '1000') } : {}
export default defineWorker<{ n: number }, string>(${JSON.stringify(name)}, async (job) => {
  if (ms) await new Promise(resolve => setTimeout(resolve, ms))
  await useRedisConnection('worker').sadd(useCzoConfig().redis.prefix + ':runs:' + ${JSON.stringify(name)}, job.id + '|' + process.pid + '|' + randomUUID())
  return ${JSON.stringify(name)} + ':' + job.data.n + ':' + process.pid
}, { concurrency: Number(process.env.CONCURRENCY ?? '1'), ...lock })
`
}

/** A worker that enqueues a follow-up job, with a fixed id, on the queue `next` (as mazo's orders do). */
const CHAIN_WORKER = `import { defineWorker, useQueue } from '@czo/kit'
export default defineWorker<{ n: number }, number>('chain', async (job) => {
  await new Promise(resolve => setTimeout(resolve, 30))
  await useQueue<{ n: number }>('next').add('x', { n: job.data.n }, { jobId: 'next-' + job.id })
  return job.data.n
}, { concurrency: 10 })
`

let redis: RedisServer
let app: FixtureApp
let entry: string

beforeAll(async () => {
  redis = await startRedisServer()
  app = makeApp({ 'server/workers/jobs.ts': countingWorker('jobs'), 'server/workers/other.ts': sleepyWorker('other'), 'server/workers/chain.ts': CHAIN_WORKER })
  entry = (await buildWorkers({ rootDir: app.dir })).entry
})
afterEach(async () => {
  await closeAll()
})
afterAll(async () => {
  await redis?.destroy()
  removeApps()
})

function startWorkerProcess(url: string, prefix: string, env: Record<string, string> = {}, args: string[] = ['--workers=jobs']): Spawned {
  return spawnTracked(process.execPath, [entry, ...args], {
    cwd: app.dir,
    env: { ...process.env, NITRO_CZO_REDIS_URL: url, NITRO_CZO_REDIS_PREFIX: prefix, ...env },
  })
}

/** Stops every process a test started, also when it failed. */
const started: Spawned[] = []
function track(proc: Spawned): Spawned {
  started.push(proc)
  return proc
}
afterEach(async () => {
  await Promise.all(started.splice(0).map(proc => proc.stop(3000)))
})

async function enqueue(count: number): Promise<string[]> {
  const jobs = await useQueue<{ n: number }>('jobs').addBulk(Array.from({ length: count }, (_, n) => ({ name: 'x', data: { n } })))
  return jobs.map(job => job.id!)
}

interface Audit {
  /** Processor runs per job id. */
  runs: Map<string, number>
  /** `completed` events per job id, from BullMQ's event stream. */
  completions: Map<string, number>
  /** Job ids (of those expected) that are not in the completed set. */
  notCompleted: string[]
  /** Completed jobs per pid that processed them (from the return value). */
  byPid: Map<number, number>
}

async function audit(prefix: string, ids: readonly string[]): Promise<Audit> {
  const client = useRedisConnection('queue')
  const runs = new Map<string, number>()
  for (const member of await client.smembers(`${prefix}:runs:jobs`)) {
    const id = member.split('|')[0]!
    runs.set(id, (runs.get(id) ?? 0) + 1)
  }
  const completions = new Map<string, number>()
  for (const [, fields] of await client.xrange(`${prefix}:jobs:events`, '-', '+')) {
    const record: Record<string, string> = {}
    for (let i = 0; i < fields.length; i += 2) record[fields[i]!] = fields[i + 1]!
    if (record.event === 'completed') completions.set(record.jobId!, (completions.get(record.jobId!) ?? 0) + 1)
  }
  const completed = await useQueue('jobs').getCompleted(0, -1)
  const completedIds = new Set(completed.map(job => job.id!))
  const byPid = new Map<number, number>()
  for (const job of completed) {
    const pid = Number(String(job.returnvalue).split(':')[2])
    byPid.set(pid, (byPid.get(pid) ?? 0) + 1)
  }
  return { runs, completions, notCompleted: ids.filter(id => !completedIds.has(id)), byPid }
}

/** Every job completed, by exactly one completion; `exactRuns`: and by exactly one processor run. */
function expectAllCompletedOnce(result: Audit, ids: readonly string[], exactRuns: boolean): void {
  expect(result.notCompleted, 'jobs not completed').toEqual([])
  const wrongCompletions = ids.filter(id => result.completions.get(id) !== 1).map(id => `${id}:${result.completions.get(id) ?? 0}`)
  expect(wrongCompletions, 'jobs not completed exactly once (id:completions)').toEqual([])
  const neverRun = ids.filter(id => (result.runs.get(id) ?? 0) === 0)
  expect(neverRun, 'completed jobs whose processor never ran').toEqual([])
  if (exactRuns) {
    const rerun = ids.filter(id => result.runs.get(id) !== 1).map(id => `${id}:${result.runs.get(id)}`)
    expect(rerun, 'jobs processed more than once (id:runs)').toEqual([])
  }
  expect([...result.byPid.values()].reduce((a, b) => a + b, 0)).toBe(ids.length)
}

describe('faults: nothing is lost', () => {
  it('SIGTERM during a batch of 200 jobs exits 0; with a second process, every job is completed exactly once', async () => {
    const prefix = isolateRedis(redis.url)
    const queue = useQueue<{ n: number }>('jobs')
    const first = track(startWorkerProcess(redis.url, prefix, { JOB_MS: '40', CONCURRENCY: '10' }))
    await first.waitFor('ready')
    const ids = await enqueue(200)
    await until(async () => (await queue.getCompletedCount()) >= 40 && (await queue.getActiveCount()) > 0, 20_000, '40 completed, some active')
    first.signal('SIGTERM')
    expect(await first.exited(), first.output()).toBe(0)
    expect(first.output()).toMatch(/shutting down: \d+ active jobs? to finish/)
    expect(first.output()).toContain('[czo] stopped')
    // The active ones finished; the rest waits, untouched.
    const counts = await queue.getJobCounts('completed', 'active', 'wait', 'failed', 'delayed')
    expect(counts.active).toBe(0)
    expect(counts.failed).toBe(0)
    const done = counts.completed ?? 0
    expect(done).toBeLessThan(200)
    expect(done + (counts.wait ?? 0)).toBe(200)

    const second = track(startWorkerProcess(redis.url, prefix, { JOB_MS: '5', CONCURRENCY: '10' }))
    await until(async () => (await queue.getCompletedCount()) === 200, 30_000, '200 completed')
    expect(await second.stop()).toBe(0)
    const result = await audit(prefix, ids)
    expectAllCompletedOnce(result, ids, true)
    expect(result.byPid.get(first.child.pid!)).toBe(done)
    expect(result.byPid.get(second.child.pid!)).toBe(200 - done)
  })

  it('SIGKILL of the worker process mid-batch, then a new one: every job ends completed (lockDuration 2 s, stalledInterval 1 s)', async () => {
    const prefix = isolateRedis(redis.url)
    const queue = useQueue<{ n: number }>('jobs')
    const env = { JOB_MS: '100', CONCURRENCY: '10', LOCK_MS: '2000', STALLED_MS: '1000' }
    const first = track(startWorkerProcess(redis.url, prefix, env))
    await first.waitFor('ready')
    const ids = await enqueue(200)
    await until(async () => (await queue.getCompletedCount()) >= 30 && (await queue.getActiveCount()) === 10, 20_000, '30 completed, 10 active')
    first.signal('SIGKILL')
    expect(await first.exited()).toBe(128 + 9)
    // The killed process's jobs are left active, with a lock that nobody renews.
    const held = await queue.getActiveCount()
    expect(held).toBeGreaterThan(0)
    const before = await queue.getCompletedCount()
    expect(before).toBeLessThan(200)

    const second = track(startWorkerProcess(redis.url, prefix, env))
    await second.waitFor('ready')
    await until(async () => (await queue.getCompletedCount()) === 200, 30_000, '200 completed after the kill')
    expect(await queue.getJobCounts('active', 'wait', 'failed', 'delayed')).toEqual({ active: 0, wait: 0, failed: 0, delayed: 0 })
    expect(await second.stop()).toBe(0)
    const result = await audit(prefix, ids)
    // A job killed mid-run runs again (at least once); it is still completed once.
    expectAllCompletedOnce(result, ids, false)
    expect(result.byPid.get(first.child.pid!)).toBe(before)
    expect(result.byPid.get(second.child.pid!)).toBe(200 - before)
  })

  // A command in flight when Redis goes down is resent by ioredis after the restart; when it was
  // BullMQ's moveToFinished (which also fetches the next job), the resent one finds the lock
  // gone and the job it had fetched stays active until stall detection hands it back. Short
  // locks (3 s, stall check every 1 s) keep that recovery within the test's time.
  it('Redis restarted during processing: the worker process resumes and completes every job once (lockDuration 3 s)', async () => {
    const own = await startRedisServer()
    try {
      const prefix = isolateRedis(own.url)
      const queue = useQueue<{ n: number }>('jobs')
      const worker = track(startWorkerProcess(own.url, prefix, { JOB_MS: '30', CONCURRENCY: '10', LOCK_MS: '3000', STALLED_MS: '1000' }))
      await worker.waitFor('ready')
      const ids = await enqueue(200)
      await until(async () => (await queue.getCompletedCount()) >= 30, 20_000, '30 completed')
      await own.stop()
      await new Promise(resolve => setTimeout(resolve, 1500))
      expect(isAlive(worker.child.pid!)).toBe(true)
      await own.start()
      await until(async () => (await queue.getCompletedCount()) === 200, 40_000, '200 completed after the restart').catch(async (error) => {
        throw new Error(`${error.message}: ${JSON.stringify(await queue.getJobCounts())}\n${worker.output()}`)
      })
      expect(await queue.getJobCounts('active', 'wait', 'failed', 'delayed')).toEqual({ active: 0, wait: 0, failed: 0, delayed: 0 })
      expect(worker.output()).toMatch(/connection error|ECONNREFUSED|Connection is closed/i)
      const result = await audit(prefix, ids)
      expectAllCompletedOnce(result, ids, false)
      expect(result.byPid.get(worker.child.pid!)).toBe(200)
      worker.signal('SIGTERM')
      expect(await worker.exited(), worker.output()).toBe(0)
    }
    finally {
      await closeAll()
      await Promise.all(started.splice(0).map(proc => proc.stop(3000)))
      await own.destroy()
    }
  })

  it('Redis restarted while jobs enqueue follow-up jobs: every job completes and every follow-up is enqueued (default job options)', async () => {
    const own = await startRedisServer()
    try {
      const prefix = isolateRedis(own.url)
      const queue = useQueue<{ n: number }>('chain')
      const worker = track(startWorkerProcess(own.url, prefix, {}, ['--workers=chain']))
      await worker.waitFor('ready')
      await queue.addBulk(Array.from({ length: 100 }, (_, n) => ({ name: 'x', data: { n } })))
      await until(async () => (await queue.getCompletedCount()) >= 10, 20_000, '10 completed')
      // Longer than the 2 s enqueue bound of the kit's fail-fast queue connection.
      await own.stop()
      await new Promise(resolve => setTimeout(resolve, 3000))
      await own.start()
      await until(async () => {
        const counts = await queue.getJobCounts('completed', 'failed')
        return (counts.completed ?? 0) + (counts.failed ?? 0) === 100
        // A job whose completing command was in flight when Redis stopped may stay active until
        // stall detection (default options here: lockDuration 30 s + stalledInterval 30 s).
      }, 100_000, '100 finished after the restart').catch(async (error) => {
        throw new Error(`${error.message}: ${JSON.stringify(await queue.getJobCounts())}\n${worker.output()}`)
      })
      const failed = await queue.getFailed()
      expect(failed.map(job => `${job.id}: ${job.failedReason}`), 'jobs failed by the restart').toEqual([])
      expect(await useQueue('next').getJobCounts('wait')).toEqual({ wait: 100 })
      worker.signal('SIGTERM')
      expect(await worker.exited(), worker.output()).toBe(0)
    }
    finally {
      await closeAll()
      await Promise.all(started.splice(0).map(proc => proc.stop(3000)))
      await own.destroy()
    }
  }, 150_000)

  it('two worker processes on the same queue: every job processed exactly once, work shared between them', async () => {
    const prefix = isolateRedis(redis.url)
    const queue = useQueue<{ n: number }>('jobs')
    const env = { JOB_MS: '20', CONCURRENCY: '4' }
    const a = track(startWorkerProcess(redis.url, prefix, env))
    const b = track(startWorkerProcess(redis.url, prefix, env))
    await Promise.all([a.waitFor('ready'), b.waitFor('ready')])
    const ids = await enqueue(200)
    await until(async () => (await queue.getCompletedCount()) === 200, 30_000, '200 completed')
    expect(await queue.getJobCounts('active', 'wait', 'failed')).toEqual({ active: 0, wait: 0, failed: 0 })
    const [codeA, codeB] = await Promise.all([a.stop(), b.stop()])
    expect([codeA, codeB]).toEqual([0, 0])
    const result = await audit(prefix, ids)
    expectAllCompletedOnce(result, ids, true)
    expect([...result.byPid.keys()].sort()).toEqual([a.child.pid!, b.child.pid!].sort())
    // Shared, not merely touched: each took at least a tenth of the batch.
    expect(result.byPid.get(a.child.pid!)).toBeGreaterThanOrEqual(20)
    expect(result.byPid.get(b.child.pid!)).toBeGreaterThanOrEqual(20)
  })
})

describe('faults: czo workers:dev', () => {
  const echo = (version: string) => `import { defineWorker } from '@czo/kit'
export default defineWorker<{ n: number }, string>('echo', async job => ${JSON.stringify(version)} + ':' + job.data.n)
`

  it('50 reloads in a row: the Redis client count stays constant and no old worker process is left', async () => {
    // A server of its own, so that CLIENT LIST counts only this dev session's clients.
    const own = await startRedisServer()
    try {
      const prefix = isolateRedis(own.url)
      const devApp = makeApp({ 'server/workers/echo.ts': echo('r0') })
      const dev = track(spawnTracked(process.execPath, [CZO_BIN, 'workers:dev', '--cwd', devApp.dir], {
        env: { ...process.env, NITRO_CZO_REDIS_URL: own.url, NITRO_CZO_REDIS_PREFIX: prefix },
      }))
      await dev.waitFor('ready', 30_000)
      const reloads = () => dev.output().split('reloaded after a change').length - 1
      const clients = async () => clientNames(await own.command('CLIENT', 'LIST')).filter(name => name !== 'czo:queue').length
      const initial = await clients()
      expect(initial).toBeGreaterThan(0)
      const seen: number[] = []
      for (let i = 1; i <= 50; i++) {
        devApp.write('server/workers/echo.ts', echo(`r${i}`))
        await until(() => reloads() === i, 15_000, `reload ${i}`)
        if (i % 10 === 0) {
          // Settled: the old process's clients are gone once it has exited.
          await until(async () => (await clients()) === initial, 5000, `client count back to ${initial} after reload ${i}`).catch(() => {})
          seen.push(await clients())
        }
      }
      expect(seen).toEqual([initial, initial, initial, initial, initial])

      const queue = useQueue<{ n: number }, string>('echo')
      const job = await queue.add('x', { n: 50 })
      await until(async () => (await queue.getJob(job.id!))?.returnvalue === 'r50:50', 15_000, 'job handled by the last code')
      const childPids = [...dev.output().matchAll(/\(pid (\d+)\)/g)].map(match => Number(match[1]))
      expect(new Set(childPids).size).toBe(51)
      expect(childPids.slice(0, -1).filter(isAlive)).toEqual([])
      dev.signal('SIGINT')
      expect(await dev.exited()).toBe(0)
      expect(isAlive(childPids.at(-1)!)).toBe(false)
      await closeAll()
      await until(async () => clientNames(await own.command('CLIENT', 'LIST')).length === 0, 5000, 'no clients left')
    }
    finally {
      await closeAll()
      await Promise.all(started.splice(0).map(proc => proc.stop(3000)))
      await own.destroy()
    }
  }, 180_000)
})

describe('faults: bad input sweep', () => {
  // A server of its own: its connection counter shows whether a failed start connected at all.
  let sweep: RedisServer
  /** A client of the test's own, connected once: the kit's clients close after every test. */
  let client: Redis
  const prefix = 'sweep'
  const apps: Record<string, FixtureApp> = {}
  const worker = (name: string) => `import { defineWorker } from '@czo/kit'\nexport default defineWorker(${JSON.stringify(name)}, async () => 1)\n`
  const withOops = (oops: string) => ({ 'server/workers/jobs.ts': countingWorker('jobs'), 'server/workers/oops.ts': oops })

  beforeAll(async () => {
    sweep = await startRedisServer()
    client = new Redis(sweep.port, '127.0.0.1', { lazyConnect: true })
    await client.connect()
    // Built and runnable, but broken when the worker process loads them.
    const runnable: Record<string, Record<string, string>> = {
      good: { 'server/workers/jobs.ts': countingWorker('jobs'), 'server/workers/other.ts': sleepyWorker('other') },
      notDefinition: withOops(`export default { name: 'oops' }\n`),
      duplicate: withOops(worker('jobs')),
      throws: withOops(`import { defineWorker } from '@czo/kit'\nthrow new Error('boom at import')\nexport default defineWorker('oops', async () => 1)\n`),
      badName: withOops(worker('a:b')),
      connection: withOops(`import { defineWorker } from '@czo/kit'\nexport default defineWorker('oops', async () => 1, { connection: {} } as any)\n`),
      noEntry: withOops(worker('oops')),
      noChunk: withOops(worker('oops')),
    }
    for (const [key, files] of Object.entries(runnable)) {
      apps[key] = makeApp(files)
      await buildWorkers({ rootDir: apps[key]!.dir })
    }
    rmSync(join(apps.noEntry!.dir, '.output/server/workers/_entry.mjs'))
    const entryCode = readFileSync(join(apps.noChunk!.dir, '.output/server/workers/_entry.mjs'), 'utf8')
    const chunk = /file: "server\/workers\/oops\.ts", load: \(\) => import\("\.\/(chunks\/[^"]+)"\)/.exec(entryCode)?.[1]
    expect(chunk, entryCode).toBeDefined()
    rmSync(join(apps.noChunk!.dir, '.output/server/workers', chunk!))
    // Not built: `workers:build` must refuse them, or there is nothing to start.
    apps.noDefault = makeApp(withOops('export const notAWorker = 1\n'))
    apps.syntax = makeApp(withOops(`import { defineWorker } from '@czo/kit'\nexport default defineWorker(\n`))
    apps.missingImport = makeApp(withOops(`import { defineWorker } from '@czo/kit'\nimport { x } from '../lib/nope'\nexport default defineWorker('oops', async () => x)\n`))
    apps.noWorkers = makeApp({ 'server/workers/_helper.ts': 'export const helper = 1\n' })
    apps.unbuilt = makeApp({ 'server/workers/jobs.ts': countingWorker('jobs') })

    isolateRedis(sweep.url)
    process.env.NITRO_CZO_REDIS_PREFIX = prefix
    await useQueue<{ n: number }>('jobs').addBulk([1, 2, 3].map(n => ({ name: 'x', data: { n } })))
    await useQueue<{ n: number }>('other').add('x', { n: 4 })
  }, 60_000)
  afterAll(async () => {
    await closeAll()
    await client?.quit()
    await sweep?.destroy()
  })
  // The suite-level afterEach closes the test's client; this describe keeps its own prefix.
  afterEach(() => {
    process.env.NITRO_CZO_REDIS_URL = sweep.url
    process.env.NITRO_CZO_REDIS_PREFIX = prefix
  })

  /** Every key of the prefix with its full content: "untouched" means equal before and after. */
  async function snapshot(): Promise<Record<string, unknown>> {
    const keys = (await client.keys(`${prefix}:*`)).sort()
    const out: Record<string, unknown> = {}
    for (const key of keys) {
      const type = await client.type(key)
      out[key] = type === 'hash' ? await client.hgetall(key)
        : type === 'list' ? await client.lrange(key, 0, -1)
          : type === 'zset' ? await client.zrange(key, 0, -1, 'WITHSCORES')
            : type === 'set' ? (await client.smembers(key)).sort()
              : type === 'stream' ? await client.xrange(key, '-', '+')
                : type === 'string' ? await client.get(key)
                  : type
    }
    return out
  }

  async function connectionsReceived(): Promise<number> {
    const info = await client.info('stats')
    return Number(/total_connections_received:(\d+)/.exec(info)![1])
  }

  type Case = [what: string, how: 'node' | 'cli', app: string, args: string[], env: Record<string, string>, code: number, message: string | RegExp]
  const url = () => sweep.url
  const cases: Case[] = [
    // Malformed worker files.
    ['a worker file without a default export', 'cli', 'noDefault', ['workers:build'], {}, 1, 'server/workers/oops.ts: no default export'],
    // Named by its path relative to the app, at the line of the error, like any other build error
    // (not through the generated entry: "czo:czo:entry:2:56: Transform failed with 1 error: /abs/…:3:0").
    ['a worker file with a syntax error', 'cli', 'syntax', ['workers:build'], {}, 1, /Worker build failed:\nserver\/workers\/oops\.ts:3:\d+: (?!.*czo:entry)/],
    ['a worker file importing a missing module', 'cli', 'missingImport', ['workers:build'], {}, 1, /server\/workers\/oops\.ts:2:\d+: Could not resolve "\.\.\/lib\/nope"/],
    ['a workers folder with no worker file', 'cli', 'noWorkers', ['workers:build'], {}, 1, 'No worker files in server/workers'],
    ['a default export that is not a worker', 'node', 'notDefinition', [], {}, 1, 'server/workers/oops.ts: the default export is an object with keys ["name"], not a worker definition'],
    ['two files defining one worker', 'node', 'duplicate', [], {}, 1, 'Worker "jobs" is defined twice: in server/workers/jobs.ts and in server/workers/oops.ts'],
    ['a worker file throwing at import', 'node', 'throws', [], {}, 1, /server\/workers\/oops\.ts: threw while loading:\nError: boom at import/],
    ['a worker name with ":"', 'node', 'badName', [], {}, 1, /server\/workers\/oops\.ts: threw while loading:\nTypeError: Worker name "a:b" must not contain ":"/],
    ['a worker passing its own connection', 'node', 'connection', [], {}, 1, /server\/workers\/oops\.ts: threw while loading:\nTypeError: Worker "oops": options.connection is not allowed/],
    // Unknown and malformed flags, of the worker process and of the CLI.
    ['an unknown flag of the process', 'node', 'good', ['--wrokers=jobs'], {}, 2, 'unknown flag --wrokers; see --help'],
    ['--workers without a value', 'node', 'good', ['--workers'], {}, 2, '--workers needs a value'],
    ['an empty --workers list', 'node', 'good', ['--workers=,'], {}, 2, '--workers is empty'],
    ['an unknown worker in --workers', 'node', 'good', ['--workers=jobs,zzz'], {}, 2, '--workers: unknown worker "zzz". Known workers: jobs, other'],
    ['a zero --shutdown-timeout', 'node', 'good', ['--shutdown-timeout=0'], {}, 2, '--shutdown-timeout must be a positive whole number of milliseconds, got "0"'],
    ['a --shutdown-timeout with a unit', 'node', 'good', ['--shutdown-timeout', '5s'], {}, 2, '--shutdown-timeout must be a positive whole number of milliseconds, got "5s"'],
    ['a stray argument of the process', 'node', 'good', ['jobs'], {}, 2, 'unexpected argument "jobs"'],
    ['an unknown flag of workers:start', 'cli', 'good', ['workers:start', '--wrokers=jobs'], {}, 2, 'unknown flag --wrokers'],
    ['workers:start --workers without a value', 'cli', 'good', ['workers:start', '--workers'], {}, 2, '--workers needs a value'],
    ['workers:start --shutdown-timeout=soon', 'cli', 'good', ['workers:start', '--shutdown-timeout=soon'], {}, 2, '--shutdown-timeout must be a positive whole number'],
    ['workers:start with an unknown worker', 'cli', 'good', ['workers:start', '--workers=zzz'], {}, 2, '--workers: unknown worker "zzz". Known workers: jobs, other'],
    // Malformed env values.
    ['CZO_SHUTDOWN_TIMEOUT=abc', 'node', 'good', [], { CZO_SHUTDOWN_TIMEOUT: 'abc' }, 2, 'CZO_SHUTDOWN_TIMEOUT must be a positive whole number of milliseconds, got "abc"'],
    ['an empty CZO_WORKERS list', 'node', 'good', [], { CZO_WORKERS: ' , ' }, 2, 'CZO_WORKERS is empty'],
    ['an unknown worker in CZO_WORKERS', 'cli', 'good', ['workers:start'], { CZO_WORKERS: 'nope' }, 2, 'CZO_WORKERS: unknown worker "nope". Known workers: jobs, other'],
    ['a malformed CZO_SHUTDOWN_TIMEOUT through workers:start', 'cli', 'good', ['workers:start'], { CZO_SHUTDOWN_TIMEOUT: '-5' }, 2, 'CZO_SHUTDOWN_TIMEOUT must be'],
    ['an http:// NITRO_CZO_REDIS_URL', 'node', 'good', [], { NITRO_CZO_REDIS_URL: 'http://127.0.0.1:1' }, 1, 'Invalid NITRO_CZO_REDIS_URL: unsupported protocol "http:"'],
    ['a NITRO_CZO_REDIS_URL with a non-numeric db', 'node', 'good', [], { NITRO_CZO_REDIS_URL: '@db' }, 1, /Invalid NITRO_CZO_REDIS_URL: db "abc" is not a number \(redis:\/\/127\.0\.0\.1:\d+\/abc\)/],
    ['a REDIS_URL with a non-numeric port', 'node', 'good', [], { NITRO_CZO_REDIS_URL: '', REDIS_URL: 'redis://:s3cret@host:port' }, 1, 'Invalid REDIS_URL: port "port" is not a number'],
    ['NITRO_CZO_REDIS_QUEUE_TIMEOUT=0', 'node', 'good', [], { NITRO_CZO_REDIS_QUEUE_TIMEOUT: '0' }, 1, 'Invalid NITRO_CZO_REDIS_QUEUE_TIMEOUT: expected a positive whole number of milliseconds, got "0"'],
    ['NITRO_CZO_WORKERS_SHUTDOWN_TIMEOUT=soon', 'node', 'good', [], { NITRO_CZO_WORKERS_SHUTDOWN_TIMEOUT: 'soon' }, 1, 'Invalid NITRO_CZO_WORKERS_SHUTDOWN_TIMEOUT: expected a positive whole number of milliseconds, got "soon"'],
    ['NITRO_CZO_WORKERS_INLINE=maybe', 'node', 'good', [], { NITRO_CZO_WORKERS_INLINE: 'maybe' }, 1, 'Invalid NITRO_CZO_WORKERS_INLINE: expected true or false, got "maybe"'],
    ['a DATABASE_URL that is not a URL', 'node', 'good', [], { DATABASE_URL: 'not a url' }, 1, 'Invalid DATABASE_URL: not a valid URL'],
    // A missing build output, whole or in part.
    ['workers:start before any build', 'cli', 'unbuilt', ['workers:start'], {}, 2, /No worker build at .*\.output\/server\/workers\/index\.mjs\. Build it first with `czo workers:build --cwd /],
    ['workers:start --output pointing nowhere', 'cli', 'good', ['workers:start', '--output', 'nowhere'], {}, 2, /No worker build at .*nowhere\/server\/workers\/index\.mjs/],
    ['a build output without _entry.mjs', 'node', 'noEntry', [], {}, 1, /Cannot find module '.*\.output\/server\/workers\/_entry\.mjs'/],
    ['a build output missing a worker\'s chunk', 'node', 'noChunk', [], {}, 1, /server\/workers\/oops\.ts: threw while loading:\nError \[ERR_MODULE_NOT_FOUND\]: Cannot find module '.*\/chunks\/\w+\.mjs'/],
  ]

  it.each(cases)('%s: exits non-zero naming the culprit, connects nothing, leaves queued jobs untouched', async (_what, how, appKey, args, env, code, message) => {
    const target = apps[appKey]!
    const resolvedEnv = Object.fromEntries(Object.entries(env).map(([key, value]) => [key, value === '@db' ? `${url()}/abc` : value]))
    const before = await snapshot()
    const connections = await connectionsReceived()
    const argv = how === 'cli' ? [CZO_BIN, ...args.slice(0, 1), '--cwd', target.dir, ...args.slice(1)] : [join(target.dir, '.output/server/workers/index.mjs'), ...args]
    const proc = spawnTracked(process.execPath, argv, {
      cwd: target.dir,
      env: { ...process.env, NITRO_CZO_REDIS_URL: url(), NITRO_CZO_REDIS_PREFIX: prefix, ...resolvedEnv },
    })
    const timer = setTimeout(() => proc.signal('SIGKILL'), 20_000)
    const exitCode = await proc.exited()
    clearTimeout(timer)
    const output = proc.output()
    expect(exitCode, output).toBe(code)
    if (typeof message === 'string') expect(output).toContain(message)
    else expect(output).toMatch(message)
    // Nothing started half-way: no worker line, no ready line, not one connection to Redis.
    expect(output).not.toMatch(/worker "[^"]+" on queue|ready:/)
    expect(output).not.toContain('s3cret')
    expect(await connectionsReceived(), 'connections opened to Redis').toBe(connections)
    expect(await snapshot()).toEqual(before)
    if (args[0] === 'workers:build') expect(existsSync(join(target.dir, '.output')), 'a failed build writes no output').toBe(false)
  })

  it('the sweep\'s fixture is sound: the same build with good input starts and takes the queued jobs', async () => {
    const proc = track(spawnTracked(process.execPath, [join(apps.good!.dir, '.output/server/workers/index.mjs')], {
      cwd: apps.good!.dir,
      env: { ...process.env, NITRO_CZO_REDIS_URL: url(), NITRO_CZO_REDIS_PREFIX: prefix },
    }))
    await proc.waitFor('ready: 2 workers')
    await until(async () => (await useQueue('jobs').getCompletedCount()) === 3 && (await useQueue('other').getCompletedCount()) === 1, 10_000, 'queued jobs completed')
    expect(await proc.stop()).toBe(0)
  })
})
