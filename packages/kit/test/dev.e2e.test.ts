import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { isAlive, spawnTracked, type Spawned } from '../../../tools/test/processes.ts'
import { startRedisServer, type RedisServer } from '../../../tools/test/redis-server.ts'
import { closeAll } from '../src/runtime/close.ts'
import { useQueue } from '../src/runtime/queue.ts'
import { CZO_BIN, makeApp, removeApps, type FixtureApp } from './fixtures.ts'
import { clientNames, isolateRedis, until } from './helpers.ts'

// A server of its own, so that CLIENT LIST counts only this dev session's clients.
let redis: RedisServer
beforeAll(async () => {
  redis = await startRedisServer()
})
afterEach(closeAll)
afterAll(async () => {
  await redis.destroy()
  removeApps()
})

const worker = (version: string) => `import { defineWorker } from '@czo/kit'
import { label } from '../lib/label'
export default defineWorker<{ n: number }, string>('echo', async job => label(${JSON.stringify(version)}, job.data.n))
`

function startDev(app: FixtureApp, prefix: string): Spawned {
  return spawnTracked(process.execPath, [CZO_BIN, 'workers:dev', '--cwd', app.dir], {
    env: { ...process.env, NITRO_CZO_REDIS_URL: redis.url, NITRO_CZO_REDIS_PREFIX: prefix },
  })
}

async function processOne(n: number): Promise<string> {
  const queue = useQueue<{ n: number }, string>('echo')
  const job = await queue.add('x', { n })
  let result: string | undefined
  await until(async () => {
    result = (await queue.getJob(job.id!))?.returnvalue
    return result !== undefined && result !== null
  }, 15_000, `job ${n}`)
  return result!
}

const countReloads = (proc: Spawned) => proc.output().split('reloaded after a change').length - 1

describe('czo workers:dev', () => {
  it('reloads on edits of a worker and of a module it imports; old code never handles a later job', async () => {
    const prefix = isolateRedis(redis.url)
    const app = makeApp({
      'server/workers/echo.ts': worker('v1'),
      'server/lib/label.ts': 'export const label = (v: string, n: number) => `${v}:${n}`\n',
    })
    const dev = startDev(app, prefix)
    await dev.waitFor('ready: 1 worker connected')
    expect(await processOne(1)).toBe('v1:1')

    app.write('server/workers/echo.ts', worker('v2'))
    await until(() => countReloads(dev) === 1, 15_000, 'reload 1')
    expect(await processOne(2)).toBe('v2:2')

    app.write('server/lib/label.ts', 'export const label = (v: string, n: number) => `helper-${v}:${n}`\n')
    await until(() => countReloads(dev) === 2, 15_000, 'reload 2')
    expect(await processOne(3)).toBe('helper-v2:3')

    dev.signal('SIGINT')
    expect(await dev.exited()).toBe(0)
  })

  it('keeps the Redis client count constant over 20 reloads', async () => {
    const prefix = isolateRedis(redis.url)
    const app = makeApp({
      'server/workers/echo.ts': worker('r0'),
      'server/lib/label.ts': 'export const label = (v: string, n: number) => `${v}:${n}`\n',
    })
    const dev = startDev(app, prefix)
    await dev.waitFor('ready')
    const clients = async () => clientNames(await redis.command('CLIENT', 'LIST')).filter(name => name !== 'czo:queue').length
    app.write('server/workers/echo.ts', worker('r1'))
    await until(() => countReloads(dev) === 1, 15_000, 'reload 1')
    const afterOne = await clients()
    expect(afterOne).toBeGreaterThan(0)
    for (let i = 2; i <= 20; i++) {
      app.write('server/workers/echo.ts', worker(`r${i}`))
      await until(() => countReloads(dev) === i, 15_000, `reload ${i}`)
    }
    expect(await processOne(20)).toBe('r20:20')
    await until(async () => (await clients()) === afterOne, 5000, 'client count back to the count after 1 reload')
    dev.signal('SIGINT')
    expect(await dev.exited()).toBe(0)
  })

  it('reports a crashed child and a build error, restarts on the next change, and leaves no orphan on Ctrl+C', async () => {
    const prefix = isolateRedis(redis.url)
    const app = makeApp({
      'server/workers/echo.ts': worker('ok'),
      'server/lib/label.ts': 'export const label = (v: string, n: number) => `${v}:${n}`\n',
    })
    const dev = startDev(app, prefix)
    await dev.waitFor('ready')
    app.write('server/workers/echo.ts', `import { defineWorker } from '@czo/kit'\nsetTimeout(() => process.exit(7), 50)\nexport default defineWorker('echo', async () => 'doomed')\n`)
    await dev.waitFor('workers exited with code 7; they restart on the next change')
    app.write('server/workers/echo.ts', 'export default defineWorker(\n')
    await dev.waitFor('Worker build failed')
    const before = countReloads(dev)
    app.write('server/workers/echo.ts', worker('back'))
    await until(() => countReloads(dev) > before, 15_000, 'recovered')
    expect(await processOne(5)).toBe('back:5')
    const childPids = [...dev.output().matchAll(/\(pid (\d+)\)/g)].map(m => Number(m[1]))
    expect(childPids.length).toBeGreaterThanOrEqual(2)
    expect(isAlive(childPids.at(-1)!)).toBe(true)
    dev.signal('SIGINT')
    expect(await dev.exited()).toBe(0)
    for (const pid of childPids) expect(isAlive(pid)).toBe(false)
    await until(async () => (await clientNames(await redis.command('CLIENT', 'LIST'))).filter(n => n !== 'czo:queue').length === 0, 5000, 'no clients left')
  })
})
