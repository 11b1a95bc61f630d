import { Redis, type RedisOptions } from 'ioredis'
import { useCzoConfig } from './config.js'
import { redactSecrets } from './redact.js'

/**
 * `queue`: the HTTP side. Fails fast when Redis is down, so a request gets an error, not a hang.
 * `worker`: the worker process. Retries forever with backoff, as BullMQ requires of workers.
 */
export type ConnectionRole = 'queue' | 'worker'

/** ioredis options for a Redis URL, without connecting. Throws nothing: validate the URL first. */
export function redisOptionsFromUrl(url: string): RedisOptions {
  const parsed = new URL(url)
  const db = parsed.pathname.replace(/^\//, '')
  return {
    host: parsed.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: parsed.port ? Number(parsed.port) : 6379,
    username: parsed.username ? decodeURIComponent(parsed.username) : undefined,
    password: parsed.password ? decodeURIComponent(parsed.password) : undefined,
    db: db ? Number(db) : 0,
    ...(parsed.protocol === 'rediss:' ? { tls: { servername: parsed.hostname } } : {}),
  }
}

/** Exponential backoff with a cap, used for reconnects. */
export function reconnectDelay(attempt: number, capMs: number): number {
  return Math.min(50 * 2 ** Math.min(attempt, 10), capMs)
}

export function connectionOptions(role: ConnectionRole, url: string, queueTimeout: number): RedisOptions {
  const base = redisOptionsFromUrl(url)
  if (role === 'worker') {
    return {
      ...base,
      maxRetriesPerRequest: null,
      enableReadyCheck: true,
      retryStrategy: attempt => reconnectDelay(attempt, 5000),
    }
  }
  return {
    ...base,
    // Commands issued while disconnected fail at once instead of queueing up behind a dead socket.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: queueTimeout,
    commandTimeout: queueTimeout,
    retryStrategy: attempt => reconnectDelay(attempt, 2000),
  }
}

const clients = new Set<Redis>()
const shared = new Map<ConnectionRole, Redis>()

/**
 * Creates a Redis client for a role, tracked so that {@link closeConnections} can close it.
 * Connection errors are logged once per outage with the password redacted.
 */
export function createRedisConnection(role: ConnectionRole, name?: string): Redis {
  const config = useCzoConfig()
  const options = connectionOptions(role, config.redis.url, config.redis.queueTimeout)
  const client = new Redis({ ...options, connectionName: name ?? `czo:${role}`, lazyConnect: false })
  let reported = false
  client.on('error', (error: Error) => {
    if (reported) return
    reported = true
    console.warn(`[czo] Redis ${role} connection error: ${redactSecrets(error.message, [options.password])}`)
  })
  client.on('ready', () => {
    reported = false
  })
  client.on('end', () => clients.delete(client))
  clients.add(client)
  return client
}

/** The one client a process shares per role (BullMQ duplicates it for blocking worker calls). */
export function useRedisConnection(role: ConnectionRole): Redis {
  let client = shared.get(role)
  if (!client || client.status === 'end') {
    client = createRedisConnection(role)
    shared.set(role, client)
  }
  return client
}

/** How many clients this module has open: for tests and for leak checks. */
export function getConnectionCount(): number {
  return clients.size
}

/** Closes every tracked client: politely with QUIT, then by force after `timeoutMs`. */
export async function closeConnections(timeoutMs = 2000): Promise<void> {
  const all = [...clients]
  shared.clear()
  await Promise.all(all.map(client => quitWithin(client, timeoutMs)))
}

async function quitWithin(client: Redis, timeoutMs: number): Promise<void> {
  clients.delete(client)
  if (client.status === 'end') return
  if (client.status !== 'ready') {
    client.disconnect()
    return
  }
  let timer: NodeJS.Timeout | undefined
  const forced = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      client.disconnect()
      resolve()
    }, timeoutMs)
    timer.unref()
  })
  await Promise.race([client.quit().then(() => undefined, () => client.disconnect()), forced])
  clearTimeout(timer)
}
