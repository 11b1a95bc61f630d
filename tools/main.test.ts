/**
 * The README's main command (`npm start` = setup, then `node tools/main.mjs`): mazo built, its
 * API and worker process running as two processes, one order through them, Ctrl+C stops both.
 */
import { randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, inject, it } from 'vitest'
import { freePort } from './redis/resp.mjs'
import { spawnTracked } from './test/processes.ts'

const root = fileURLToPath(new URL('..', import.meta.url))

describe('the README main command', () => {
  it('is `npm start`, and `npm test` is the test command .ci/run calls', () => {
    const readme = readFileSync(`${root}/README.md`, 'utf8')
    expect(readme).toContain('```sh\nnpm start\n```')
    expect(readme).toContain('```sh\nnpm test\n```')
    const scripts = JSON.parse(readFileSync(`${root}/package.json`, 'utf8')).scripts
    expect(scripts.start).toBe('bash tools/setup.sh && node tools/main.mjs')
    expect(readFileSync(`${root}/.ci/run`, 'utf8')).toMatch(/^npm test$/m)
  })

  it('runs mazo\'s API and worker process, sends an order through them, and stops both on Ctrl+C', async () => {
    const port = await freePort()
    const main = spawnTracked(process.execPath, ['tools/main.mjs'], {
      cwd: root,
      env: { ...process.env, PORT: String(port), NITRO_CZO_REDIS_URL: inject('redisUrl'), NITRO_CZO_REDIS_PREFIX: `main-${randomUUID().slice(0, 8)}` },
    })
    try {
      await main.waitFor('Press Ctrl+C to stop', 150_000)
      const output = main.output()
      // The test's Redis answers, so none is started.
      expect(output).toContain('[redis] using the Redis that answers at')
      expect(output).toMatch(/\[workers\] \[czo\] ready: 3 workers connected to .* \(pid (\d+)\)/)
      const workerPid = /\[workers\] \[czo\] ready: .*\(pid (\d+)\)/.exec(output)![1]
      expect(output).toContain('[main] POST /api/orders -> 202 {"id":"1"')
      const order = JSON.parse(/\[main\] GET \/api\/orders\/1 -> (.*)/.exec(output)![1]!)
      expect(order).toMatchObject({ state: 'completed', result: { total: 4500, processedBy: { pid: Number(workerPid) } } })
      expect(order.chained.emails.state).toBe('completed')
      expect(order.chained.inventory.state).toBe('completed')
      expect(output).toContain(`curl -s -X POST http://127.0.0.1:${port}/api/orders`)

      // Ctrl+C in a terminal: SIGINT to the whole process group.
      main.signal('SIGINT')
      expect(await main.exited()).toBe(0)
      expect(main.output()).toContain('[main] api exited with code 0')
      expect(main.output()).toContain('[main] workers exited with code 0')
    }
    finally {
      await main.stop(5000)
    }
  })
})
