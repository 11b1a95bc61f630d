/**
 * Helpers for mazo's end-to-end tests: sandbox copies of an app (so tests never write into
 * apps/mazo itself), `nitro build` as a real child process, the built API and worker process
 * started from a copy of `.output`, HTTP and Redis checks. Every process goes through
 * spawnTracked: stopped by pid/group, also when a test fails.
 */
import { randomUUID } from 'node:crypto'
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { spawnTracked, type Spawned } from '../../../tools/test/processes.ts'
import { freePort } from '../../../tools/test/redis-server.ts'
import { rawCommand } from '../../../tools/redis/resp.mjs'

export const MAZO_DIR = fileURLToPath(new URL('..', import.meta.url))
export const FIXTURES_DIR = fileURLToPath(new URL('./fixtures', import.meta.url))
const NITRO_BIN = join(MAZO_DIR, 'node_modules/nitropack/dist/cli/index.mjs')
/** Sandboxes live inside apps/mazo so that its node_modules (nitropack, @czo/kit) resolve. */
const SANDBOX_ROOT = join(MAZO_DIR, '.test-builds')

/** The env of a child process: PATH and HOME only, plus what the test passes. No secrets leak in. */
export function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOME: process.env.HOME, NODE_ENV: 'production', ...extra }
}

/** Copies an app's sources (not node_modules, builds or tests) into a fresh sandbox folder. */
export function sandboxApp(sourceDir: string = MAZO_DIR): { dir: string, remove(): void } {
  mkdirSync(SANDBOX_ROOT, { recursive: true })
  const dir = join(SANDBOX_ROOT, randomUUID().slice(0, 8))
  const skip = new Set(['node_modules', '.output', '.nitro', '.test-builds', 'test', 'project.json'])
  mkdirSync(dir)
  for (const name of readdirSync(sourceDir)) {
    if (!skip.has(name)) cpSync(join(sourceDir, name), join(dir, name), { recursive: true })
  }
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) }
}

/** Runs `nitro build` in `dir`; resolves with its exit code and output. */
export async function nitroBuild(dir: string, timeoutMs = 120_000): Promise<{ code: number, output: string }> {
  const build = spawnTracked(process.execPath, [NITRO_BIN, 'build', dir], { cwd: dir, env: childEnv({ NODE_ENV: 'production' }) })
  const timer = setTimeout(() => build.signal('SIGKILL'), timeoutMs)
  const code = await build.exited()
  clearTimeout(timer)
  return { code, output: build.output() }
}

/** Copies `<dir>/.output` alone to a new temp folder (no node_modules anywhere above it). */
export function copyOutput(dir: string): { root: string, remove(): void } {
  const root = mkdtempSync(join(tmpdir(), 'mazo-output-'))
  cpSync(join(dir, '.output'), join(root, '.output'), { recursive: true })
  if (existsSync(join(tmpdir(), 'node_modules'))) throw new Error(`${tmpdir()}/node_modules exists: the copy would not be alone`)
  return { root, remove: () => rmSync(root, { recursive: true, force: true }) }
}

export interface Api {
  proc: Spawned
  url: string
}

/** Starts the built API (`node .output/server/index.mjs`) from `root` on a free port. */
export async function startApi(root: string, env: Record<string, string>): Promise<Api> {
  const port = await freePort()
  const proc = spawnTracked(process.execPath, ['.output/server/index.mjs'], { cwd: root, env: childEnv({ PORT: String(port), HOST: '127.0.0.1', ...env }) })
  await proc.waitFor('Listening on', 20_000)
  return { proc, url: `http://127.0.0.1:${port}` }
}

/** Starts the built worker process (`node .output/server/workers/index.mjs`) and waits until it is ready. */
export async function startWorkerProcess(root: string, env: Record<string, string>): Promise<Spawned> {
  const proc = spawnTracked(process.execPath, ['.output/server/workers/index.mjs'], { cwd: root, env: childEnv(env) })
  await proc.waitFor('[czo] ready:', 20_000)
  return proc
}

export interface HttpResult {
  status: number
  body: any
  ms: number
}

export async function http(url: string, init: { method?: string, body?: unknown, timeoutMs?: number } = {}): Promise<HttpResult> {
  const started = performance.now()
  const response = await fetch(url, {
    method: init.method ?? 'GET',
    headers: init.body === undefined ? {} : { 'content-type': 'application/json' },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
    signal: AbortSignal.timeout(init.timeoutMs ?? 10_000),
  })
  const text = await response.text()
  let body: unknown = text
  try {
    body = JSON.parse(text)
  }
  catch {}
  return { status: response.status, body, ms: performance.now() - started }
}

export function anOrder(index = 0, extra: Record<string, unknown> = {}) {
  return {
    customer: { email: `buyer${index}@example.com`, name: `Buyer ${index}` },
    country: 'FR',
    items: [
      { sku: `SKU-${index % 7}`, quantity: 1 + (index % 15), unitPrice: 1250 },
      { sku: 'GIFT-WRAP', quantity: 1, unitPrice: 300 },
    ],
    ...extra,
  }
}

/** Polls `GET /api/orders/:id` until the order and both chained jobs are completed. */
export async function waitForCompleted(api: Api, id: string, timeoutMs = 20_000): Promise<any> {
  const deadline = Date.now() + timeoutMs
  let last: HttpResult | undefined
  while (Date.now() < deadline) {
    last = await http(`${api.url}/api/orders/${id}`)
    const body = last.body
    if (last.status === 200 && body.state === 'completed'
      && body.chained?.emails?.state === 'completed' && body.chained?.inventory?.state === 'completed') {
      return body
    }
    if (body?.state === 'failed') throw new Error(`order ${id} failed: ${JSON.stringify(body)}`)
    await new Promise(resolve => setTimeout(resolve, 50))
  }
  throw new Error(`order ${id} not completed with its chained jobs within ${timeoutMs} ms; last answer: ${JSON.stringify(last?.body)}`)
}

/** Length of one of BullMQ's lists (`wait`, `active`...) for a queue, read with a raw connection. */
export async function listLength(port: number, prefix: string, queue: string, list: 'wait' | 'active' | 'paused' | 'prioritized'): Promise<number> {
  const key = `${prefix}:${queue}:${list}`
  const reply = await rawCommand({ port }, [list === 'prioritized' ? 'ZCARD' : 'LLEN', key])
  const match = /^:(\d+)/.exec(reply)
  if (!match) throw new Error(`unexpected reply to LLEN ${key}: ${reply}`)
  return Number(match[1])
}

export function portOf(url: string): number {
  return Number(new URL(url).port)
}

export function uniquePrefix(): string {
  return `mazo-${randomUUID().slice(0, 8)}`
}
