import { redactUrl, useCzoConfig, useQueue, useRedisConnection } from '@czo/kit'
import { bounded, whenReady } from '../lib/http'

const QUEUES = ['orders', 'emails', 'inventory'] as const

/**
 * The API's own state and Redis's. Answers 200 while the API itself is up, with
 * `status: "degraded"` when Redis is not reachable: a liveness probe must not restart the API
 * because Redis is down.
 */
export default defineEventHandler(async () => {
  const config = useCzoConfig()
  const api = { status: 'up' as const, pid: process.pid, uptimeSeconds: Math.round(process.uptime()) }
  const redisInfo = { url: redactUrl(config.redis.url), prefix: config.redis.prefix, inlineWorkers: config.workers.inline }
  const started = performance.now()
  try {
    const queues = await bounded('health check', async () => {
      const client = useRedisConnection('queue')
      await whenReady(client)
      await client.ping()
      const counts = await Promise.all(QUEUES.map(name =>
        useQueue(name).getJobCounts('waiting', 'active', 'completed', 'failed', 'delayed')))
      return Object.fromEntries(QUEUES.map((name, index) => [name, counts[index]]))
    })
    return { status: 'ok', api, redis: { status: 'up', ...redisInfo, latencyMs: Math.round(performance.now() - started) }, queues }
  }
  catch (error) {
    return { status: 'degraded', api, redis: { status: 'down', ...redisInfo, error: redactUrl(error instanceof Error ? error.message : String(error)) } }
  }
})
