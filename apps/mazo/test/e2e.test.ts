/**
 * mazo built with `nitro build`, `.output` copied alone to a temp folder, the API and the worker
 * process started from there: the deployable output of the czo Nitro module, end to end.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest'
import type { Spawned } from '../../../tools/test/processes.ts'
import { startRedisServer, type RedisServer } from '../../../tools/test/redis-server.ts'
import {
  anOrder, copyOutput, http, listLength, nitroBuild, portOf, sandboxApp, startApi,
  startWorkerProcess, uniquePrefix, waitForCompleted, type Api,
} from './helpers.ts'

const SIDE_EFFECT = '[mazo] orders worker loaded'
const QUEUES = ['orders', 'emails', 'inventory'] as const

let sandbox: ReturnType<typeof sandboxApp>
let output: ReturnType<typeof copyOutput>
const running: Spawned[] = []

function track<T extends Spawned | Api>(started: T): T {
  running.push('proc' in started ? started.proc : started)
  return started
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    return statSync(path).isDirectory() ? filesUnder(path) : [path]
  })
}

beforeAll(async () => {
  sandbox = sandboxApp()
  const build = await nitroBuild(sandbox.dir)
  expect(build.code, build.output).toBe(0)
  expect(build.output).toContain('[czo] 3 worker files built to .output/server/workers')
  output = copyOutput(sandbox.dir)
}, 180_000)

afterEach(async () => {
  await Promise.all(running.splice(0).map(proc => proc.stop(5000)))
})

afterAll(() => {
  sandbox?.remove()
  output?.remove()
})

describe('mazo built with nitro build, run from a copy of .output', () => {
  it('writes the worker entry next to the server, with the kit (bullmq and ioredis bundled in) in server/node_modules', () => {
    const server = join(output.root, '.output/server')
    const files = filesUnder(server).map(file => file.slice(server.length + 1))
    expect(files).toContain('index.mjs')
    expect(files).toContain('workers/index.mjs')
    expect(files).toContain('workers/_entry.mjs')
    expect(files).toContain('node_modules/@czo/kit/package.json')
    expect(files).toContain('node_modules/@czo/kit/dist/kit.mjs')
    // mazo's workers import nothing but the kit, which holds bullmq and ioredis: nothing else to trace.
    expect(files.filter(file => file.startsWith('node_modules/') && !file.startsWith('node_modules/@czo/kit/'))).toEqual([])
    // The server bundle holds no worker code: only the worker output does.
    const serverCode = files.filter(file => !file.startsWith('workers/') && !file.startsWith('node_modules/') && file.endsWith('.mjs'))
    expect(serverCode.length).toBeGreaterThan(0)
    for (const file of serverCode) expect(readFileSync(join(server, file), 'utf8'), file).not.toContain(SIDE_EFFECT)
    expect(filesUnder(join(server, 'workers')).some(file => file.endsWith('.mjs') && readFileSync(file, 'utf8').includes(SIDE_EFFECT))).toBe(true)
  })

  it('API and worker process: orders complete with their chained jobs; SIGTERM stops both with 0 and nothing active', async () => {
    const redisUrl = inject('redisUrl')
    const prefix = uniquePrefix()
    const env = { NITRO_CZO_REDIS_URL: redisUrl, NITRO_CZO_REDIS_PREFIX: prefix }
    const api = track(await startApi(output.root, env))
    const worker = track(await startWorkerProcess(output.root, env))

    const posted = await Promise.all(Array.from({ length: 12 }, (_, index) => http(`${api.url}/api/orders`, { method: 'POST', body: anOrder(index) })))
    for (const answer of posted) expect(answer.status, JSON.stringify(answer.body)).toBe(202)
    const ids = posted.map(answer => answer.body.id as string)
    expect(new Set(ids).size).toBe(12)

    for (const [index, id] of ids.entries()) {
      const order = await waitForCompleted(api, id)
      const quantity = 1 + (index % 15)
      const discount = quantity >= 10 ? Math.round(quantity * 1250 * 0.05) : 0
      const net = quantity * 1250 - discount + 300
      expect(order.result.net).toBe(net)
      expect(order.result.total).toBe(order.result.net + order.result.tax)
      expect(order.result.processedBy.pid).toBe(worker.child.pid)
      expect(order.chained.emails.result.subject).toBe(`Your order ${id} is confirmed`)
      expect(order.chained.inventory.result.units).toBe(quantity + 1)
    }

    // The worker file's top-level side effect ran in the worker process, never in the API.
    expect(worker.output()).toContain(SIDE_EFFECT)
    expect(api.proc.output()).not.toContain(SIDE_EFFECT)

    const health = await http(`${api.url}/api/health`)
    expect(health.body).toMatchObject({ status: 'ok', redis: { status: 'up', prefix } })

    worker.signal('SIGTERM')
    api.proc.signal('SIGTERM')
    expect(await worker.exited(), worker.output()).toBe(0)
    expect(await api.proc.exited(), api.proc.output()).toBe(0)
    expect(worker.output()).toContain('[czo] stopped')
    for (const queue of QUEUES) {
      expect(await listLength(portOf(redisUrl), prefix, queue, 'active'), `${queue} active`).toBe(0)
      expect(await listLength(portOf(redisUrl), prefix, queue, 'wait'), `${queue} wait`).toBe(0)
    }
  })

  it('NITRO_CZO_REDIS_URL reaches the API, REDIS_URL the worker process and the API alike', async () => {
    // A Redis of its own: if either process ignored its variable it would talk to another server.
    const redis = await startRedisServer()
    try {
      const prefix = uniquePrefix()
      const api = track(await startApi(output.root, { NITRO_CZO_REDIS_URL: redis.url, NITRO_CZO_REDIS_PREFIX: prefix }))
      const worker = track(await startWorkerProcess(output.root, { REDIS_URL: redis.url, NITRO_CZO_REDIS_PREFIX: prefix }))
      expect(worker.output()).toContain(`connected to ${redis.url}`)

      const health = await http(`${api.url}/api/health`)
      expect(health.body.redis).toMatchObject({ status: 'up', url: redis.url, prefix })

      const posted = await http(`${api.url}/api/orders`, { method: 'POST', body: anOrder(1) })
      expect(posted.status).toBe(202)
      const order = await waitForCompleted(api, posted.body.id)
      expect(order.result.processedBy.pid).toBe(worker.child.pid)
      expect(await redis.command('EXISTS', `${prefix}:orders:${posted.body.id}`)).toBe(':1\r\n')

      // REDIS_URL alone reaches the API too: the same environment gives both processes the same config.
      const plain = track(await startApi(output.root, { REDIS_URL: redis.url, NITRO_CZO_REDIS_PREFIX: prefix }))
      expect((await http(`${plain.url}/api/health`)).body.redis).toMatchObject({ status: 'up', url: redis.url, prefix })
    }
    finally {
      await Promise.all(running.splice(0).map(proc => proc.stop(5000)))
      await redis.destroy()
    }
  })

  it('inline mode (NITRO_CZO_WORKERS_INLINE=true): jobs are processed inside the API process', async () => {
    const redisUrl = inject('redisUrl')
    const prefix = uniquePrefix()
    const api = track(await startApi(output.root, { NITRO_CZO_REDIS_URL: redisUrl, NITRO_CZO_REDIS_PREFIX: prefix, NITRO_CZO_WORKERS_INLINE: 'true' }))
    await api.proc.waitFor('[czo] ready: 3 workers', 20_000)
    expect(api.proc.output()).toContain(SIDE_EFFECT)

    const posted = await http(`${api.url}/api/orders`, { method: 'POST', body: anOrder(3) })
    expect(posted.status).toBe(202)
    const order = await waitForCompleted(api, posted.body.id)
    expect(order.result.processedBy.pid).toBe(api.proc.child.pid)

    api.proc.signal('SIGTERM')
    expect(await api.proc.exited(), api.proc.output()).toBe(0)
    expect(api.proc.output()).toContain('[czo] stopped')
    for (const queue of QUEUES) expect(await listLength(portOf(redisUrl), prefix, queue, 'active')).toBe(0)
  })

  it('a SIGKILLed worker process leaves the API answering every request; a new worker picks the orders up', async () => {
    const redisUrl = inject('redisUrl')
    const prefix = uniquePrefix()
    // Slow orders, so that the worker dies with jobs in hand.
    const env = { NITRO_CZO_REDIS_URL: redisUrl, NITRO_CZO_REDIS_PREFIX: prefix, MAZO_ORDER_CPU_ROUNDS: '200000' }
    const api = track(await startApi(output.root, env))
    const worker = track(await startWorkerProcess(output.root, env))

    const first = await Promise.all(Array.from({ length: 6 }, (_, index) => http(`${api.url}/api/orders`, { method: 'POST', body: anOrder(index) })))
    for (const answer of first) expect(answer.status).toBe(202)

    // Requests keep flowing while the worker dies.
    const answers: number[] = []
    let stop = false
    const traffic = (async () => {
      let index = 100
      while (!stop) {
        const [health, post] = await Promise.all([
          http(`${api.url}/api/health`),
          http(`${api.url}/api/orders`, { method: 'POST', body: anOrder(index++) }),
        ])
        answers.push(health.status, post.status)
      }
    })()
    await new Promise(resolve => setTimeout(resolve, 200))
    worker.signal('SIGKILL')
    expect(await worker.exited()).toBe(128 + 9)
    await new Promise(resolve => setTimeout(resolve, 500))
    stop = true
    await traffic

    expect(answers.length).toBeGreaterThan(4)
    expect(answers.filter(status => status !== 200 && status !== 202)).toEqual([])
    const health = await http(`${api.url}/api/health`)
    expect(health.body).toMatchObject({ status: 'ok', api: { status: 'up' }, redis: { status: 'up' } })
    const stuck = await http(`${api.url}/api/orders/${first[0]!.body.id}`)
    expect(stuck.status).toBe(200)

    // Orders accepted while no worker ran wait in Redis; a new worker process completes them.
    // (Those the dead worker held come back through BullMQ's stall detection, about a minute.)
    const again = track(await startWorkerProcess(output.root, { ...env, MAZO_ORDER_CPU_ROUNDS: '100' }))
    const accepted = await http(`${api.url}/api/orders`, { method: 'POST', body: anOrder(7) })
    expect(accepted.status).toBe(202)
    const order = await waitForCompleted(api, accepted.body.id, 30_000)
    expect(order.result.processedBy.pid).toBe(again.child.pid)
  }, 120_000)

  it('with Redis down, POST /api/orders answers 503 quickly with a clear message, and recovers', async () => {
    const redis = await startRedisServer()
    try {
      const prefix = uniquePrefix()
      const api = track(await startApi(output.root, { NITRO_CZO_REDIS_URL: redis.url, NITRO_CZO_REDIS_PREFIX: prefix, NITRO_CZO_REDIS_QUEUE_TIMEOUT: '1000' }))
      expect((await http(`${api.url}/api/orders`, { method: 'POST', body: anOrder(1) })).status).toBe(202)

      await redis.stop()
      for (let attempt = 0; attempt < 3; attempt++) {
        const answer = await http(`${api.url}/api/orders`, { method: 'POST', body: anOrder(2) })
        expect(answer.status, JSON.stringify(answer.body)).toBe(503)
        expect(answer.body.message).toMatch(/order queue is unavailable/)
        expect(answer.ms).toBeLessThan(2500)
      }
      const read = await http(`${api.url}/api/orders/1`)
      expect(read.status).toBe(503)
      expect(read.ms).toBeLessThan(2500)
      const health = await http(`${api.url}/api/health`)
      expect(health.status).toBe(200)
      expect(health.body).toMatchObject({ status: 'degraded', api: { status: 'up' }, redis: { status: 'down', url: redis.url } })

      await redis.start()
      const deadline = Date.now() + 15_000
      let status = 0
      while (Date.now() < deadline && status !== 202) {
        status = (await http(`${api.url}/api/orders`, { method: 'POST', body: anOrder(3) })).status
        if (status !== 202) await new Promise(resolve => setTimeout(resolve, 200))
      }
      expect(status).toBe(202)
      expect(api.proc.output()).not.toMatch(/password/i)
    }
    finally {
      await Promise.all(running.splice(0).map(proc => proc.stop(5000)))
      await redis.destroy()
    }
  })

  it('POST /api/orders rejects bad input with 400 and one message per field', async () => {
    const api = track(await startApi(output.root, { NITRO_CZO_REDIS_URL: inject('redisUrl'), NITRO_CZO_REDIS_PREFIX: uniquePrefix() }))
    const bad = await http(`${api.url}/api/orders`, {
      method: 'POST',
      body: { customer: { email: 'not-an-email' }, country: 'XX', items: [{ sku: 'ok-1', quantity: 0, unitPrice: 1.5 }], cpuRounds: -1 },
    })
    expect(bad.status).toBe(400)
    expect(bad.body.data.errors.map((error: { field: string }) => error.field)).toEqual([
      'customer.email', 'country', 'items[0].sku', 'items[0].quantity', 'items[0].unitPrice', 'cpuRounds',
    ])
    expect(bad.body.message).toContain('Invalid order: customer.email must be an email address')
    expect((await http(`${api.url}/api/orders`, { method: 'POST', body: { customer: { email: 'a@b.co' }, items: [] } })).body.data.errors)
      .toEqual([{ field: 'items', message: 'must be a non-empty array' }])
    expect((await http(`${api.url}/api/orders/nope!`)).status).toBe(400)
    expect((await http(`${api.url}/api/orders/424242`)).status).toBe(404)
  })
})
