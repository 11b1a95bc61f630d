#!/usr/bin/env node
// The workspace's `redis` continuous target (see apps/mazo/project.json): makes sure a Redis
// answers at the configured URL for local serving. When one answers, it starts none; otherwise
// it starts a local redis-server with its data under the workspace's ignored `.data/redis`.
// All of the logic is tools/redis/local-redis.mjs; this only keeps the target alive and stops
// what it started when Nx stops it.
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { ensureLocalRedis, shownUrl } from './local-redis.mjs'

const workspaceRoot = fileURLToPath(new URL('../../', import.meta.url))
// Same precedence as the kit's config outside Nitro.
const url = process.env.NITRO_CZO_REDIS_URL || process.env.REDIS_URL || 'redis://127.0.0.1:6379'
const dataDir = process.env.CZO_REDIS_DATA_DIR || join(workspaceRoot, '.data', 'redis')

let redis
try {
  redis = await ensureLocalRedis({ url, dataDir, log: line => console.log(line) })
}
catch (error) {
  console.error(`[redis] ${error.message}`)
  process.exit(1)
}
console.log(`[redis] ready at ${shownUrl(url)}`)

let stopping = false
async function stop() {
  if (stopping) return
  stopping = true
  await redis.stop()
  process.exit(0)
}
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, stop)
process.on('disconnect', stop)
redis.child?.once('exit', (code, signal) => {
  if (stopping) return
  console.error(`[redis] redis-server exited (${code ?? signal})`)
  process.exit(1)
})
// A continuous target stays up until Nx stops it, also when it started nothing.
setInterval(() => {}, 1 << 30)
