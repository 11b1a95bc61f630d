/**
 * HTTP-side helpers around Redis calls: a bound on how long a request waits, and the mapping
 * of "Redis is unavailable" to a 503 with a clear message.
 * HTTP side only (createError is Nitro's auto-import): worker files must not import this module.
 */
import { QueueUnavailableError, redactUrl, useCzoConfig, type useRedisConnection } from '@czo/kit'

type Redis = ReturnType<typeof useRedisConnection>

export class RedisTimeoutError extends Error {
  override name = 'RedisTimeoutError'
}

/** Runs a Redis call, failing after the configured `redis.queueTimeout`. */
export async function bounded<T>(what: string, call: () => Promise<T>): Promise<T> {
  const { redis } = useCzoConfig()
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new RedisTimeoutError(`${what}: Redis at ${redactUrl(redis.url)} did not answer within ${redis.queueTimeout} ms`)), redis.queueTimeout)
  })
  try {
    return await Promise.race([call(), deadline])
  }
  finally {
    clearTimeout(timer)
  }
}

/** Resolves once a Redis client is connected: a fresh or reconnecting client rejects commands. */
export function whenReady(client: Redis): Promise<void> {
  if (client.status === 'ready') return Promise.resolve()
  return new Promise((resolve, reject) => {
    const onReady = () => {
      client.off('end', onEnd)
      resolve()
    }
    const onEnd = () => {
      client.off('ready', onReady)
      reject(new Error('Connection is closed'))
    }
    client.once('ready', onReady)
    client.once('end', onEnd)
  })
}

const UNAVAILABLE = /Connection is closed|Stream isn't writeable|ECONNREFUSED|ETIMEDOUT|ENOTFOUND|max retries per request|Command timed out/i

/** Maps Redis being down to 503 (and everything else to itself) for h3. */
export function toHttpError(error: unknown): unknown {
  if (error instanceof QueueUnavailableError || error instanceof RedisTimeoutError || (error instanceof Error && UNAVAILABLE.test(error.message))) {
    return createError({
      statusCode: 503,
      statusMessage: 'Service Unavailable',
      message: `The order queue is unavailable, try again later (${redactUrl(error.message)})`,
    })
  }
  return error
}
