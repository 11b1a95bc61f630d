/** `nitro dev` keeps working with the czo module, with and without inline workers. */
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, afterEach, expect, inject, it } from 'vitest'
import { spawnTracked, type Spawned } from '../../../tools/test/processes.ts'
import { freePort } from '../../../tools/test/redis-server.ts'
import { anOrder, childEnv, http, MAZO_DIR, sandboxApp, uniquePrefix, waitForCompleted } from './helpers.ts'

const sandbox = sandboxApp()
const running: Spawned[] = []
afterEach(async () => {
  await Promise.all(running.splice(0).map(proc => proc.stop(5000)))
})
afterAll(() => sandbox.remove())

async function nitroDev(env: Record<string, string>): Promise<{ proc: Spawned, url: string }> {
  const port = await freePort()
  const proc = spawnTracked(process.execPath, [join(MAZO_DIR, 'node_modules/nitropack/dist/cli/index.mjs'), 'dev', '--port', String(port)], {
    cwd: sandbox.dir,
    env: childEnv({ NODE_ENV: 'development', ...env }),
  })
  running.push(proc)
  await proc.waitFor('Nitro Server built', 60_000)
  const url = `http://127.0.0.1:${port}`
  const deadline = Date.now() + 20_000
  for (;;) {
    const health = await http(`${url}/api/health`).catch(() => undefined)
    if (health?.status === 200 && health.body.redis?.status === 'up') return { proc, url }
    if (Date.now() > deadline) throw new Error(`nitro dev did not answer /api/health:\n${proc.output()}`)
    await new Promise(resolve => setTimeout(resolve, 200))
  }
}

it('nitro dev serves the API and enqueues, without loading any worker file', async () => {
  const dev = await nitroDev({ NITRO_CZO_REDIS_URL: inject('redisUrl'), NITRO_CZO_REDIS_PREFIX: uniquePrefix() })
  const posted = await http(`${dev.url}/api/orders`, { method: 'POST', body: anOrder(1) })
  expect(posted.status).toBe(202)
  const order = await http(`${dev.url}/api/orders/${posted.body.id}`)
  expect(order.body.state).toBe('waiting')
  expect(dev.proc.output()).not.toContain('[mazo] orders worker loaded')
  expect(existsSync(join(sandbox.dir, '.nitro/czo'))).toBe(false)
}, 90_000)

it('nitro dev with NITRO_CZO_WORKERS_INLINE=true processes jobs inside the dev server', async () => {
  const dev = await nitroDev({ NITRO_CZO_REDIS_URL: inject('redisUrl'), NITRO_CZO_REDIS_PREFIX: uniquePrefix(), NITRO_CZO_WORKERS_INLINE: 'true' })
  await dev.proc.waitFor('[czo] ready: 3 workers', 20_000)
  const posted = await http(`${dev.url}/api/orders`, { method: 'POST', body: anOrder(2) })
  expect(posted.status).toBe(202)
  const order = await waitForCompleted(dev, posted.body.id)
  // Nitro dev runs the server in a worker thread of the `nitro dev` process.
  expect(order.result.processedBy.pid).toBe(dev.proc.child.pid)
}, 90_000)
