import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { startRedisServer, type RedisServer } from '../../../tools/test/redis-server.ts'
import { closeAll } from '../src/runtime/close.ts'
import { getConnectionCount } from '../src/runtime/connection.ts'
import { defineWorker } from '../src/runtime/define-worker.ts'
import { useEvents } from '../src/runtime/events.ts'
import { QueueUnavailableError, useQueue } from '../src/runtime/queue.ts'
import { getTrackedWorkers, useWorker } from '../src/runtime/worker.ts'
import { clientNames, isolateRedis, until } from './helpers.ts'

// A server of its own: CLIENT LIST and restarts must not see other test files.
let redis: RedisServer
beforeAll(async () => {
  redis = await startRedisServer()
})
afterAll(async () => {
  await closeAll()
  await redis.destroy()
})
afterEach(async () => {
  await closeAll()
})

describe('queue and worker on a real Redis', () => {
  it('processes a job added with useQueue by a useWorker worker; the result is readable', async () => {
    isolateRedis(redis.url)
    const queue = useQueue<{ a: number, b: number }, number>('sum')
    expect(useQueue('sum')).toBe(queue)
    const completed: unknown[] = []
    const stop = useEvents().on('job:completed', event => void completed.push(event))
    useWorker(defineWorker<{ a: number, b: number }, number>('sum', async job => job.data.a + job.data.b))
    const job = await queue.add('add', { a: 2, b: 3 })
    await until(async () => (await queue.getJob(job.id!))?.returnvalue === 5, 10_000, 'job result')
    const [bulkA, bulkB] = await queue.addBulk([{ name: 'x', data: { a: 1, b: 1 } }, { name: 'y', data: { a: 10, b: 1 } }])
    await until(async () => (await queue.getJob(bulkB!.id!))?.returnvalue === 11, 10_000, 'bulk result')
    expect((await queue.getJob(bulkA!.id!))?.returnvalue).toBe(2)
    await until(() => completed.length === 3)
    expect(completed[0]).toMatchObject({ worker: 'sum', queue: 'sum', jobId: job.id, result: 5 })
    stop()
  })

  it('emits job:failed, worker:ready and worker:closed on the event bus', async () => {
    isolateRedis(redis.url)
    const seen: string[] = []
    const events = useEvents()
    const stops = [
      events.on('worker:ready', e => void seen.push(`ready ${e.worker}`)),
      events.on('job:failed', e => void seen.push(`failed ${e.jobId} ${e.error.message}`)),
      events.on('worker:closed', e => void seen.push(`closed ${e.worker}`)),
    ]
    const worker = useWorker('fails', async () => {
      throw new Error('nope')
    })
    await worker.waitUntilReady()
    const job = await useQueue('fails').add('f', {})
    await until(() => seen.some(s => s.startsWith('failed')))
    await closeAll()
    await until(() => seen.includes('closed fails'))
    expect(seen).toEqual(['ready fails', `failed ${job.id} nope`, 'closed fails'])
    stops.forEach(stop => stop())
  })

  it('closeAll() leaves zero client connections from this process', async () => {
    isolateRedis(redis.url)
    const queue = useQueue('leak-check')
    useWorker('leak-check', async () => 'ok')
    useWorker('leak-check-2', async () => 'ok')
    await queue.add('x', {})
    await Promise.all(getTrackedWorkers().map(t => t.worker.waitUntilReady()))
    expect(getConnectionCount()).toBeGreaterThan(0)
    expect(clientNames(await redis.command('CLIENT', 'LIST')).length).toBeGreaterThanOrEqual(3)
    await closeAll()
    expect(getConnectionCount()).toBe(0)
    await until(async () => clientNames(await redis.command('CLIENT', 'LIST')).length === 0, 5000, 'no clients')
  })

  it('a queue call with Redis stopped errors within 2 s with a clear message, then recovers', async () => {
    const own = await startRedisServer()
    try {
      isolateRedis(own.url)
      process.env.NITRO_CZO_REDIS_QUEUE_TIMEOUT = '1500'
      const warn = vi.spyOn(console, 'warn').mockImplementation(() => {})
      const queue = useQueue('down')
      await queue.add('first', {})
      await own.stop()
      const started = Date.now()
      const error = await queue.add('second', {}).catch((e: unknown) => e)
      expect(Date.now() - started).toBeLessThan(2000)
      expect(error).toBeInstanceOf(QueueUnavailableError)
      expect((error as Error).message).toMatch(/Queue "down" is unavailable: Redis at redis:\/\/127\.0\.0\.1:\d+ did not answer within 1500 ms/)
      // Before the first connection too: a fresh process with Redis down gets the same.
      await closeAll()
      const cold = Date.now()
      await expect(useQueue('down').add('third', {})).rejects.toBeInstanceOf(QueueUnavailableError)
      expect(Date.now() - cold).toBeLessThan(2000)
      await own.start()
      await until(async () => Boolean(await useQueue('down').add('fourth', {}).catch(() => false)), 10_000, 'recovery')
      expect(await useQueue('down').getJobCountByTypes('wait')).toBe(2)
      warn.mockRestore()
    }
    finally {
      delete process.env.NITRO_CZO_REDIS_QUEUE_TIMEOUT
      await closeAll()
      await own.destroy()
    }
  })

  it('a worker resumes processing after Redis is restarted', async () => {
    const own = await startRedisServer()
    const error = vi.spyOn(console, 'error').mockImplementation(() => {})
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {})
    try {
      isolateRedis(own.url)
      const done: number[] = []
      const worker = useWorker<{ n: number }>('restart', async (job) => {
        done.push(job.data.n)
      })
      await worker.waitUntilReady()
      await useQueue<{ n: number }>('restart').add('n', { n: 1 })
      await until(() => done.length === 1)
      await own.stop()
      await new Promise(resolve => setTimeout(resolve, 500))
      await own.start()
      await until(async () => Boolean(await useQueue<{ n: number }>('restart').add('n', { n: 2 }).catch(() => false)), 10_000, 'enqueue after restart')
      await until(() => done.includes(2), 15_000, 'worker resumed')
      expect(error.mock.calls.flat().join(' ')).not.toMatch(/password/)
    }
    finally {
      error.mockRestore()
      warn.mockRestore()
      await closeAll()
      await own.destroy()
    }
  })
})
