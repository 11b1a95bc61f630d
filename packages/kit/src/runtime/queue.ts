import { Queue } from 'bullmq'
import type { Redis } from 'ioredis'
import { useCzoConfig } from './config.js'
import { useRedisConnection, type ConnectionRole } from './connection.js'
import { assertWorkerName } from './define-worker.js'
import { redactUrl } from './redact.js'

/** Thrown by an enqueue when Redis does not answer in time; HTTP handlers map it to 503. */
export class QueueUnavailableError extends Error {
  override name = 'QueueUnavailableError'
  readonly statusCode = 503
  constructor(readonly queue: string, url: string, timeoutMs: number) {
    super(`Queue "${queue}" is unavailable: Redis at ${redactUrl(url)} did not answer within ${timeoutMs} ms`)
  }
}

/** Resolves once `client` is ready, or rejects after `timeoutMs` without issuing any command. */
function whenReady(client: Redis, timeoutMs: number, onTimeout: () => Error): Promise<void> {
  if (client.status === 'ready') return Promise.resolve()
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      client.off('ready', ready)
      reject(onTimeout())
    }, timeoutMs)
    const ready = () => {
      clearTimeout(timer)
      resolve()
    }
    client.once('ready', ready)
  })
}

/**
 * A BullMQ queue. On the HTTP side (`timeout` set) `add` and `addBulk` fail within the
 * configured `queueTimeout` when Redis is down instead of waiting for it, and never enqueue
 * later. In the worker process (`timeout` undefined) they wait for Redis like the workers do,
 * so that a job which enqueues a follow-up survives a Redis restart.
 */
export class CzoQueue<Data = unknown, Result = unknown, Name extends string = string> extends Queue<Data, Result, Name> {
  readonly #client: Redis
  readonly #url: string
  readonly #timeout: number | undefined

  constructor(name: string, client: Redis, options: { prefix: string, url: string, timeout: number | undefined }) {
    super(name, { connection: client, prefix: options.prefix })
    this.#client = client
    this.#url = options.url
    this.#timeout = options.timeout
    // Connection errors are reported once by the connection module; without a listener they would throw.
    this.on('error', () => {})
  }

  async #bounded<T>(work: () => Promise<T>): Promise<T> {
    const timeoutMs = this.#timeout
    if (timeoutMs === undefined) return work()
    const unavailable = () => new QueueUnavailableError(this.name, this.#url, timeoutMs)
    await whenReady(this.#client, timeoutMs, unavailable)
    let timer: NodeJS.Timeout | undefined
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(unavailable()), timeoutMs)
    })
    try {
      return await Promise.race([work(), deadline])
    }
    catch (error) {
      if (error instanceof QueueUnavailableError) throw error
      // ioredis reports a dead socket as "Stream isn't writeable" or "Connection is closed".
      if (this.#client.status !== 'ready') throw unavailable()
      throw error
    }
    finally {
      clearTimeout(timer)
    }
  }

  override add(...args: Parameters<Queue<Data, Result, Name>['add']>): ReturnType<Queue<Data, Result, Name>['add']> {
    return this.#bounded(() => super.add(...args))
  }

  override addBulk(...args: Parameters<Queue<Data, Result, Name>['addBulk']>): ReturnType<Queue<Data, Result, Name>['addBulk']> {
    return this.#bounded(() => super.addBulk(...args))
  }
}

const queues = new Map<string, CzoQueue<any, any, any>>()
let role: ConnectionRole = 'queue'

/**
 * Which connection `useQueue` uses from now on. The worker process sets `worker`: there an
 * enqueue (a job chaining another) waits for Redis instead of failing fast like a request.
 */
export function setQueueConnectionRole(next: ConnectionRole): void {
  role = next
}

/** One cached queue per name, sharing the process's connection of the current role. */
export function useQueue<Data = unknown, Result = unknown, Name extends string = string>(name: string): CzoQueue<Data, Result, Name> {
  assertWorkerName(name)
  let queue = queues.get(name)
  if (!queue) {
    const config = useCzoConfig()
    queue = new CzoQueue<Data, Result, Name>(name, useRedisConnection(role), {
      prefix: config.redis.prefix,
      url: config.redis.url,
      timeout: role === 'queue' ? config.redis.queueTimeout : undefined,
    })
    queues.set(name, queue)
  }
  return queue as CzoQueue<Data, Result, Name>
}

/** Closes every queue opened with {@link useQueue}. */
export async function closeQueues(): Promise<void> {
  const all = [...queues.values()]
  queues.clear()
  await Promise.allSettled(all.map(queue => queue.close()))
}
