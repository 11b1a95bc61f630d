/**
 * Fault tests of mazo's deployable output (issue 6): the API and the worker process built with
 * `nitro build`, run from a copy of `.output`, against a real redis-server. The sandbox gets one
 * extra, test-only worker, `hog`, whose first run exhausts the worker process's heap.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest'
import type { Spawned } from '../../../tools/test/processes.ts'
import { startRedisServer } from '../../../tools/test/redis-server.ts'
import { closeAll } from '../../../packages/kit/src/runtime/close.ts'
import { useQueue } from '../../../packages/kit/src/runtime/queue.ts'
import {
  anOrder, copyOutput, http, nitroBuild, sandboxApp, startApi, startWorkerProcess, uniquePrefix,
  waitForCompleted, type Api,
} from './helpers.ts'

/**
 * Allocates until the heap is exhausted, synchronously (nothing else runs in that process
 * meanwhile), unless the job already stalled once: after a crash it completes. A short lock and
 * stall check bring it back in seconds instead of a minute.
 */
const HOG_WORKER = `import { defineWorker } from '@czo/kit'

export default defineWorker<{ oom: boolean }, { pid: number, stalledCounter: number }>('hog', async (job) => {
  if (job.data.oom && job.stalledCounter === 0) {
    console.log('[hog] allocating until the heap is exhausted, pid ' + process.pid)
    const hoard: number[][] = []
    for (;;) hoard.push(Array.from({ length: 100_000 }, (_, i) => i * Math.random()))
  }
  return { pid: process.pid, stalledCounter: job.stalledCounter }
}, { lockDuration: 3000, stalledInterval: 1000 })
`

let sandbox: ReturnType<typeof sandboxApp>
let output: ReturnType<typeof copyOutput>
const running: Spawned[] = []

function track<T extends Spawned | Api>(started: T): T {
  running.push('proc' in started ? started.proc : started)
  return started
}

beforeAll(async () => {
  sandbox = sandboxApp()
  writeFileSync(join(sandbox.dir, 'server/workers/hog.ts'), HOG_WORKER)
  const build = await nitroBuild(sandbox.dir)
  expect(build.code, build.output).toBe(0)
  expect(build.output).toContain('[czo] 4 worker files built to .output/server/workers')
  output = copyOutput(sandbox.dir)
}, 180_000)

afterEach(async () => {
  await closeAll()
  await Promise.all(running.splice(0).map(proc => proc.stop(5000)))
})

afterAll(() => {
  sandbox?.remove()
  output?.remove()
})

/** Requests to the API in a loop until stopped: every status and the slowest answer. */
function traffic(api: Api, firstIndex: number) {
  const statuses: number[] = []
  const accepted: string[] = []
  let slowest = 0
  let stop = false
  const done = (async () => {
    let index = firstIndex
    while (!stop) {
      const [health, post, read] = await Promise.all([
        http(`${api.url}/api/health`),
        http(`${api.url}/api/orders`, { method: 'POST', body: anOrder(index++, { cpuRounds: 100 }) }),
        http(`${api.url}/api/orders/1`),
      ])
      statuses.push(health.status, post.status, read.status === 404 ? 200 : read.status)
      if (post.status === 202) accepted.push(post.body.id)
      slowest = Math.max(slowest, health.ms, post.ms, read.ms)
      await new Promise(resolve => setTimeout(resolve, 20))
    }
  })()
  return {
    statuses,
    accepted,
    get slowest() {
      return slowest
    },
    async stop() {
      stop = true
      await done
    },
  }
}

describe('mazo faults: nothing is lost', () => {
  it('a job exhausting the worker process\'s heap (--max-old-space-size=64): the API answers every request; after a restart every job completes', async () => {
    const redisUrl = inject('redisUrl')
    const prefix = uniquePrefix()
    const env = { NITRO_CZO_REDIS_URL: redisUrl, NITRO_CZO_REDIS_PREFIX: prefix }
    const workerEnv = { ...env, NODE_OPTIONS: '--max-old-space-size=64' }
    const api = track(await startApi(output.root, env))
    const worker = track(await startWorkerProcess(output.root, workerEnv))

    const before = await Promise.all(Array.from({ length: 4 }, (_, index) => http(`${api.url}/api/orders`, { method: 'POST', body: anOrder(index) })))
    for (const answer of before) expect(answer.status).toBe(202)
    for (const answer of before) expect((await waitForCompleted(api, answer.body.id)).result.processedBy.pid).toBe(worker.child.pid)

    process.env.NITRO_CZO_REDIS_URL = redisUrl
    process.env.NITRO_CZO_REDIS_PREFIX = prefix
    const hog = await useQueue<{ oom: boolean }>('hog').add('oom', { oom: true })
    await worker.waitFor('[hog] allocating', 20_000)
    const load = traffic(api, 100)
    const code = await worker.exited()
    expect(worker.output()).toMatch(/heap out of memory|Reached heap limit/i)
    expect(code).not.toBe(0)
    // The API goes on answering with no worker process at all.
    await new Promise(resolve => setTimeout(resolve, 1000))

    const again = track(await startWorkerProcess(output.root, workerEnv))
    const after = await Promise.all(Array.from({ length: 4 }, (_, index) => http(`${api.url}/api/orders`, { method: 'POST', body: anOrder(200 + index) })))
    for (const answer of after) expect(answer.status).toBe(202)
    await new Promise(resolve => setTimeout(resolve, 500))
    await load.stop()

    expect(load.statuses.length).toBeGreaterThan(9)
    expect(load.statuses.filter(status => status !== 200 && status !== 202)).toEqual([])
    expect(load.slowest).toBeLessThan(2000)
    const health = await http(`${api.url}/api/health`)
    expect(health.body).toMatchObject({ status: 'ok', api: { status: 'up', pid: api.proc.child.pid }, redis: { status: 'up' } })

    // Orders taken while the heap filled up or while no worker ran, and those after: all complete.
    const ids = [...load.accepted, ...after.map(answer => answer.body.id as string)]
    expect(ids.length).toBeGreaterThan(4)
    for (const id of ids) {
      const order = await waitForCompleted(api, id, 30_000)
      expect(order.result.processedBy.pid, `order ${id}`).toBe(again.child.pid)
    }
    // The job that crashed the process is not lost: it comes back and completes once.
    const queue = useQueue<{ oom: boolean }>('hog')
    let state = ''
    const deadline = Date.now() + 20_000
    while (Date.now() < deadline && state !== 'completed') {
      state = await queue.getJobState(hog.id!)
      if (state !== 'completed') await new Promise(resolve => setTimeout(resolve, 100))
    }
    expect(state).toBe('completed')
    expect((await queue.getJob(hog.id!))!.returnvalue).toEqual({ pid: again.child.pid, stalledCounter: 1 })
    expect(api.proc.output()).not.toMatch(/heap|uncaught|error/i)
  }, 120_000)

  it('Redis restarted while orders are processed: enqueue answers 503 while it is down, then 202; the worker process resumes and completes every order', async () => {
    const redis = await startRedisServer()
    try {
      const prefix = uniquePrefix()
      const env = { NITRO_CZO_REDIS_URL: redis.url, NITRO_CZO_REDIS_PREFIX: prefix }
      const api = track(await startApi(output.root, { ...env, NITRO_CZO_REDIS_QUEUE_TIMEOUT: '1000' }))
      const worker = track(await startWorkerProcess(output.root, env))

      // Enough CPU per order that some are still queued or active when Redis goes away.
      const first = await Promise.all(Array.from({ length: 16 }, (_, index) => http(`${api.url}/api/orders`, { method: 'POST', body: anOrder(index, { cpuRounds: 20_000 }) })))
      for (const answer of first) expect(answer.status).toBe(202)
      process.env.NITRO_CZO_REDIS_URL = redis.url
      process.env.NITRO_CZO_REDIS_PREFIX = prefix
      await redis.stop()
      const down = await http(`${api.url}/api/orders`, { method: 'POST', body: anOrder(50) })
      expect(down.status, JSON.stringify(down.body)).toBe(503)
      expect(down.body.message).toMatch(/order queue is unavailable/)
      expect((await http(`${api.url}/api/health`)).body).toMatchObject({ status: 'degraded', redis: { status: 'down' } })
      await new Promise(resolve => setTimeout(resolve, 1000))
      expect(worker.child.exitCode).toBeNull()

      await redis.start()
      const accepted: string[] = []
      const deadline = Date.now() + 15_000
      while (Date.now() < deadline && accepted.length === 0) {
        const answer = await http(`${api.url}/api/orders`, { method: 'POST', body: anOrder(60) })
        if (answer.status === 202) accepted.push(answer.body.id)
        else await new Promise(resolve => setTimeout(resolve, 200))
      }
      expect(accepted).toHaveLength(1)
      for (let index = 0; index < 4; index++) {
        const answer = await http(`${api.url}/api/orders`, { method: 'POST', body: anOrder(70 + index) })
        expect(answer.status).toBe(202)
        accepted.push(answer.body.id)
      }

      const ids = [...first.map(answer => answer.body.id as string), ...accepted]
      for (const id of ids) {
        // An order whose chained enqueue met the outage must still complete, on its first attempt.
        // A job whose completing command was in flight when Redis stopped can be left active until
        // BullMQ's stall detection takes it back (lockDuration 30 s + stalledInterval 30 s with
        // mazo's default worker options): nothing is lost, but it may take that long.
        const order = await waitForCompleted(api, id, 100_000).catch(async (error: Error) => {
          const job = await useQueue('orders').getJob(id)
          throw new Error(`${error.message}\nattempts: ${JSON.stringify(job?.stacktrace?.map(line => line.split('\n')[0]))}`)
        })
        expect(order.result.processedBy.pid, `order ${id}`).toBe(worker.child.pid)
        expect(order.attemptsMade, `order ${id}: ${JSON.stringify(order)}`).toBe(1)
      }
      const health = await http(`${api.url}/api/health`)
      expect(health.body.queues.orders).toMatchObject({ waiting: 0, active: 0, failed: 0, completed: ids.length })
      worker.signal('SIGTERM')
      expect(await worker.exited(), worker.output()).toBe(0)
    }
    finally {
      await closeAll()
      await Promise.all(running.splice(0).map(proc => proc.stop(5000)))
      await redis.destroy()
    }
  }, 240_000)
})
