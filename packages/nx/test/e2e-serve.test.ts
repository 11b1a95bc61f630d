/**
 * The long-running targets through the real nx binary, with a real Redis:
 * - `nx run mazo:workers-serve` in this workspace (the plugin loaded from its TypeScript
 *   sources, as nx.json registers it) processes a job enqueued here, and SIGINT to its process
 *   group leaves no process behind;
 * - `nx run-many -t serve` (fixture copy) starts API and workers: an order posted to the API is
 *   priced by the worker process; SIGTERM to nx stops both, nothing left running;
 * - `nx run mazo:workers-start` (fixture copy) runs the built output;
 * - stopping nx while a job runs longer than nx waits before it kills (about 5 s) hands the job
 *   back to the queue: it is waiting, not left active for BullMQ's stall detection.
 */
import { randomUUID } from 'node:crypto'
import { rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { closeAll, useQueue } from '@czo/kit'
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest'
import { freePort } from '../../../tools/test/redis-server.ts'
import type { Spawned } from '../../../tools/test/processes.ts'
import {
  createFixtureWorkspace,
  describePids,
  killLeftovers,
  nxRunner,
  repoRoot,
  until,
  waitForNoLeftovers,
  type NxRunner,
} from './e2e-helpers'

const ORDER = {
  customer: { email: 'ada@example.com', name: 'Ada' },
  country: 'FR',
  items: [{ sku: 'BOOK-1', quantity: 2, unitPrice: 1250 }, { sku: 'PEN-7', quantity: 1, unitPrice: 300 }],
}

const runners: NxRunner[] = []
const started: Spawned[] = []
let fixture: string | undefined

function newRunner(extra?: NodeJS.ProcessEnv) {
  const prefix = `nx-e2e-${randomUUID().slice(0, 8)}`
  const runner = nxRunner({ redisUrl: inject('redisUrl'), prefix, extra })
  runners.push(runner)
  return { runner, prefix }
}

function start(runner: NxRunner, cwd: string, args: string[]) {
  const proc = runner.start(cwd, args)
  started.push(proc)
  return proc
}

/** Adds what nx printed to a failure, so that a timeout says why. */
async function explained<T>(nx: Spawned, work: Promise<T>): Promise<T> {
  try {
    return await work
  }
  catch (error) {
    throw new Error(`${(error as Error).message}\n--- nx output ---\n${nx.output()}`)
  }
}

/** The state of a job, read through this process's kit. */
async function stateOf(queue: string, id: string): Promise<string | undefined> {
  return (await useQueue(queue).getJob(id))?.getState()
}

/** Points this process's kit at the test Redis with the runner's prefix. */
function useKitWith(prefix: string) {
  process.env.NITRO_CZO_REDIS_URL = inject('redisUrl')
  process.env.NITRO_CZO_REDIS_PREFIX = prefix
}

beforeAll(() => {
  fixture = createFixtureWorkspace()
}, 120_000)

afterEach(async () => {
  // Whatever a failed test left running: its nx process group, then anything with its tag.
  await Promise.all(started.splice(0).map(proc => proc.stop(5000)))
  for (const runner of runners) killLeftovers(runner)
  await closeAll()
})

afterAll(() => {
  for (const runner of runners.splice(0)) runner.cleanup()
  if (fixture) rmSync(fixture, { recursive: true, force: true })
})

describe('workers-serve', () => {
  it('processes a job enqueued from the test; SIGINT to its process group leaves nothing behind', async () => {
    const { runner, prefix } = newRunner()
    const nx = start(runner, repoRoot, ['run', 'mazo:workers-serve'])
    await nx.waitFor(/\[czo\] ready: 3 workers connected/, 90_000)
    // The plugin came from nx.json's TypeScript path, and the Redis the test gave it was used.
    expect(nx.output()).toContain('[redis] using the Redis that answers at')

    useKitWith(prefix)
    const job = await useQueue('orders').add('order', { order: ORDER })
    const result = await until(async () => {
      const current = await useQueue('orders').getJob(job.id!)
      return (await current?.getState()) === 'completed' ? current!.returnvalue as { total: number, processedBy: { pid: number } } : undefined
    }, 30_000, 'the orders job to complete')
    expect(result.processedBy.pid).not.toBe(process.pid)
    expect(result.total).toBeGreaterThan(0)
    expect(runner.leftovers()).toContain(result.processedBy.pid)

    // Stopping nx is a graceful stop of the worker process: a job active at Ctrl+C completes
    // (about 0.5 s of CPU here, well within the deadline nx leaves).
    const slow = await useQueue('orders').add('order', { order: ORDER, cpuRounds: 300_000 })
    await until(async () => await stateOf('orders', slow.id!) === 'active', 30_000, 'the slow orders job to start')
    nx.signal('SIGINT')
    await nx.exited()
    const left = await waitForNoLeftovers(runner)
    expect(left, describePids(left)).toEqual([])
    expect(await stateOf('orders', slow.id!)).toBe('completed')
    const stopped = await useQueue('orders').getJob(slow.id!)
    expect((stopped!.returnvalue as { processedBy: { pid: number } }).processedBy.pid).toBe(result.processedBy.pid)
  }, 180_000)
})

describe('run-many -t serve', () => {
  it('starts the API and the workers; a posted order is processed by the worker process; SIGTERM to nx stops both', async () => {
    const port = await freePort()
    const { runner } = newRunner({ PORT: String(port), HOST: '127.0.0.1' })
    const nx = start(runner, fixture!, ['run-many', '-t', 'serve'])
    await nx.waitFor(/\[czo\] ready: 3 workers connected/, 120_000)
    const base = `http://127.0.0.1:${port}`
    await explained(nx, until(async () => (await fetch(`${base}/api/health`)).ok, 120_000, `the API at ${base}/api/health`))

    const posted = await fetch(`${base}/api/orders`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(ORDER) })
    expect(posted.status).toBe(202)
    const { id } = await posted.json() as { id: string }
    const order = await until(async () => {
      const body = await (await fetch(`${base}/api/orders/${id}`)).json() as { state: string, result?: { processedBy: { pid: number } } }
      return body.state === 'completed' ? body : undefined
    }, 60_000, `order ${id} to complete`)
    // Priced in the worker process, which is one of the processes this nx run started.
    expect(runner.leftovers()).toContain(order.result!.processedBy.pid)

    nx.child.kill('SIGTERM')
    await nx.exited()
    const left = await waitForNoLeftovers(runner)
    expect(left, describePids(left)).toEqual([])
  }, 300_000)
})

describe('workers-start', () => {
  it('builds, then runs the built worker process, which processes jobs', async () => {
    const { runner, prefix } = newRunner()
    const nx = start(runner, fixture!, ['run', 'mazo:workers-start'])
    await nx.waitFor(/\[czo\] ready: 3 workers connected/, 120_000)
    const output = nx.output()
    expect(output).toMatch(/nx run mazo:workers-build/)
    // The process started is the built output, not the TypeScript sources.
    expect(runner.leftovers().map(pid => describePids([pid])).join('\n')).toMatch(/\.output\/server\/workers\/index\.mjs/)

    useKitWith(prefix)
    const job = await useQueue('orders').add('order', { order: ORDER })
    await until(async () => await stateOf('orders', job.id!) === 'completed', 30_000, 'the orders job to complete')

    nx.signal('SIGINT')
    await nx.exited()
    const left = await waitForNoLeftovers(runner)
    expect(left, describePids(left)).toEqual([])
  }, 240_000)
})

describe('stopping nx during a long job', () => {
  it('hands a job that outlasts nx\'s kill delay back to the queue instead of leaving it active', async () => {
    // Asynchronous, so the worker process's event loop is free to meet its deadline.
    const file = join(fixture!, 'apps/mazo/server/workers/slow.ts')
    writeFileSync(file, `import { defineWorker } from '@czo/kit'\nexport default defineWorker('slow', async () => {\n  await new Promise(resolve => setTimeout(resolve, 60_000))\n  return 'done'\n})\n`)
    try {
      const { runner, prefix } = newRunner()
      const nx = start(runner, fixture!, ['run', 'mazo:workers-serve', '--workers=slow'])
      await nx.waitFor(/\[czo\] ready: 1 worker connected/, 120_000)
      useKitWith(prefix)
      const job = await useQueue('slow').add('slow', {})
      await until(async () => await stateOf('slow', job.id!) === 'active', 30_000, 'the slow job to start')

      nx.signal('SIGINT')
      await nx.exited()
      const left = await waitForNoLeftovers(runner)
      expect(left, describePids(left)).toEqual([])
      expect(await stateOf('slow', job.id!)).toBe('waiting')
    }
    finally {
      rmSync(file, { force: true })
    }
  }, 180_000)
})
