/**
 * Fault tests of the worker process (issue 6): real processes, real redis-servers, and in every
 * one of them no job is lost. Each job's processor records one member per run in a Redis set
 * (`<prefix>:runs:<queue>`, a random member per run, so a command resent after a reconnect adds
 * nothing), and BullMQ's event stream records each completion: a job run twice, completed twice,
 * or never completed fails the test.
 */
import { rmSync } from 'node:fs'
import { join } from 'node:path'
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

let redis: RedisServer
let app: FixtureApp
let entry: string

beforeAll(async () => {
  redis = await startRedisServer()
  app = makeApp({ 'server/workers/jobs.ts': countingWorker('jobs'), 'server/workers/other.ts': sleepyWorker('other') })
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
    expect(counts.completed).toBeLessThan(200)
    expect(counts.completed + counts.wait).toBe(200)

    const second = track(startWorkerProcess(redis.url, prefix, { JOB_MS: '5', CONCURRENCY: '10' }))
    await until(async () => (await queue.getCompletedCount()) === 200, 30_000, '200 completed')
    expect(await second.stop()).toBe(0)
    const result = await audit(prefix, ids)
    expectAllCompletedOnce(result, ids, true)
    expect(result.byPid.get(first.child.pid!)).toBe(counts.completed)
    expect(result.byPid.get(second.child.pid!)).toBe(200 - counts.completed)
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

  it('Redis restarted during processing: the worker process resumes and completes every job exactly once', async () => {
    const own = await startRedisServer()
    try {
      const prefix = isolateRedis(own.url)
      const queue = useQueue<{ n: number }>('jobs')
      const worker = track(startWorkerProcess(own.url, prefix, { JOB_MS: '30', CONCURRENCY: '10' }))
      await worker.waitFor('ready')
      const ids = await enqueue(200)
      await until(async () => (await queue.getCompletedCount()) >= 30, 20_000, '30 completed')
      await own.stop()
      await new Promise(resolve => setTimeout(resolve, 1500))
      expect(isAlive(worker.child.pid!)).toBe(true)
      await own.start()
      await until(async () => (await queue.getCompletedCount()) === 200, 40_000, '200 completed after the restart')
      expect(await queue.getJobCounts('active', 'wait', 'failed', 'delayed')).toEqual({ active: 0, wait: 0, failed: 0, delayed: 0 })
      expect(worker.output()).toMatch(/connection error|ECONNREFUSED|Connection is closed/i)
      const result = await audit(prefix, ids)
      expectAllCompletedOnce(result, ids, true)
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
