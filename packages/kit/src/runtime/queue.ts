import { Queue } from 'bullmq'
import type { Redis } from 'ioredis'
import { useCzoConfig } from './config.js'
import { useRedisConnection } from './connection.js'
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
 * A BullMQ queue for the HTTP side: `add` and `addBulk` fail within the configured
 * `queueTimeout` when Redis is down instead of waiting for it, and never enqueue later.
 */
export class CzoQueue<Data = unknown, Result = unknown, Name extends string = string> extends Queue<Data, Result, Name> {
  readonly #client: Redis
  readonly #url: string
  readonly #timeout: number

  constructor(name: string, client: Redis, options: { prefix: string, url: string, timeout: number }) {
    super(name, { connection: client, prefix: options.prefix })
    this.#client = client
    this.#url = options.url
    this.#timeout = options.timeout
    // Connection errors are reported once by the connection module; without a listener they would throw.
    this.on('error', () => {})
  }

  async #bounded<T>(work: () => Promise<T>): Promise<T> {
    const unavailable = () => new QueueUnavailableError(this.name, this.#url, this.#timeout)
    await whenReady(this.#client, this.#timeout, unavailable)
    let timer: NodeJS.Timeout | undefined
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(unavailable()), this.#timeout)
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

/** One cached queue per name, sharing the process's `queue` connection. */
export function useQueue<Data = unknown, Result = unknown, Name extends string = string>(name: string): CzoQueue<Data, Result, Name> {
  assertWorkerName(name)
  let queue = queues.get(name)
  if (!queue) {
    const config = useCzoConfig()
    queue = new CzoQueue<Data, Result, Name>(name, useRedisConnection('queue'), {
      prefix: config.redis.prefix,
      url: config.redis.url,
      timeout: config.redis.queueTimeout,
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
