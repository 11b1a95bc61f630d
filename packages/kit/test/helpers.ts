import { randomUUID } from 'node:crypto'
import { inject } from 'vitest'

/** Points the kit at the run's redis-server with a key prefix of its own; returns the prefix. */
export function isolateRedis(url: string = inject('redisUrl')): string {
  const prefix = `t-${randomUUID().slice(0, 8)}`
  process.env.NITRO_CZO_REDIS_URL = url
  process.env.NITRO_CZO_REDIS_PREFIX = prefix
  return prefix
}

export function until(check: () => boolean | Promise<boolean>, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs
  return new Promise((resolve, reject) => {
    const tick = async () => {
      try {
        if (await check()) return resolve()
      }
      catch {}
      if (Date.now() > deadline) return reject(new Error(`timed out waiting for ${what}`))
      setTimeout(tick, 25)
    }
    void tick()
  })
}

/** The names of the clients connected to a redis-server, from CLIENT LIST, without the asker. */
export function clientNames(clientList: string): string[] {
  return clientList.split('\n')
    .filter(line => line.includes(' cmd=') && !line.includes('cmd=client|list'))
    .map(line => /\bname=(\S*)/.exec(line)?.[1] ?? '')
}
