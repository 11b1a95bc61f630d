#!/usr/bin/env node
// The README's main command (`npm start`): builds mazo, then runs its API and its worker
// process as two processes against a local Redis (started here when none answers), sends one
// order through them, and prints how to send more. Ctrl+C stops everything gracefully.
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { ensureLocalRedis, shownUrl } from './redis/local-redis.mjs'

const root = fileURLToPath(new URL('..', import.meta.url))
const app = join(root, 'apps/mazo')
const redisUrl = process.env.NITRO_CZO_REDIS_URL || process.env.REDIS_URL || 'redis://127.0.0.1:6379'
const port = Number(process.env.PORT || 3000)
const api = `http://127.0.0.1:${port}`
const children = []
let redis

const log = line => console.log(`[main] ${line}`)

/** Runs a process with each output line prefixed by its name; resolves the handle. */
function run(name, command, args, options = {}) {
  const child = spawn(command, args, { cwd: app, env: { ...process.env, NITRO_CZO_REDIS_URL: redisUrl, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] })
  const lines = []
  const waiters = []
  const prefix = stream => {
    let rest = ''
    stream.on('data', (chunk) => {
      const text = rest + chunk
      const parts = text.split('\n')
      rest = parts.pop()
      for (const line of parts) {
        console.log(`[${name}] ${line}`)
        lines.push(line)
        for (const waiter of waiters) waiter()
      }
    })
  }
  prefix(child.stdout)
  prefix(child.stderr)
  const exited = new Promise(resolve => child.once('exit', (code, signal) => resolve(code ?? (signal ? 128 + 15 : 1))))
  const handle = {
    child,
    exited,
    waitFor: (pattern, timeoutMs = 60_000) => new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${name} did not print ${pattern} within ${timeoutMs / 1000} s`)), timeoutMs)
      const check = () => {
        if (lines.some(line => pattern.test(line))) {
          clearTimeout(timer)
          resolve()
        }
      }
      waiters.push(check)
      check()
      exited.then((code) => {
        clearTimeout(timer)
        reject(new Error(`${name} exited with code ${code}`))
      })
    }),
  }
  if (options.longRunning) children.push(handle)
  return handle
}

let stopping = false
async function stop(code = 0) {
  if (stopping) return
  stopping = true
  log('stopping the API and the worker process (SIGTERM)...')
  for (const { child } of children) if (child.exitCode === null) child.kill('SIGTERM')
  const codes = await Promise.all(children.map(handle => handle.exited))
  children.forEach((handle, i) => log(`${['api', 'workers'][i] ?? 'process'} exited with code ${codes[i]}`))
  await redis?.stop()
  process.exit(code)
}
process.on('SIGINT', () => void stop(0))
process.on('SIGTERM', () => void stop(0))

async function request(path, init) {
  const response = await fetch(`${api}${path}`, { ...init, headers: { 'content-type': 'application/json' }, signal: AbortSignal.timeout(5000) })
  return { status: response.status, body: await response.json() }
}

try {
  redis = await ensureLocalRedis({ url: redisUrl, dataDir: join(root, '.data/redis'), log })
  log('building mazo (nitro build: API and worker process)...')
  const build = run('build', join(app, 'node_modules/.bin/nitro'), ['build'])
  if (await build.exited !== 0) throw new Error('nitro build failed (see above)')
  if (!existsSync(join(app, '.output/server/workers/index.mjs'))) throw new Error('the build did not write .output/server/workers/index.mjs')

  const apiProcess = run('api', process.execPath, ['.output/server/index.mjs'], { env: { PORT: String(port), HOST: '127.0.0.1' }, longRunning: true })
  const workers = run('workers', process.execPath, ['.output/server/workers/index.mjs'], { longRunning: true })
  await Promise.all([apiProcess.waitFor(/Listening on/), workers.waitFor(/\[czo\] ready:/)])

  const order = { customer: { email: 'ada@example.com' }, items: [{ sku: 'BOOK-1', quantity: 2, unitPrice: 1500 }, { sku: 'PEN-7', quantity: 3, unitPrice: 250 }] }
  const posted = await request('/api/orders', { method: 'POST', body: JSON.stringify(order) })
  log(`POST /api/orders -> ${posted.status} ${JSON.stringify(posted.body)}`)
  let state
  // Until the order and the two jobs it chains (email, inventory) are done, for at most 10 s.
  const finished = job => job?.state === 'completed' || job?.state === 'failed'
  for (let i = 0; i < 100; i++) {
    state = await request(`/api/orders/${posted.body.id}`)
    const { chained } = state.body
    if (state.body.state === 'failed' || (finished(state.body) && finished(chained?.emails) && finished(chained?.inventory))) break
    await new Promise(resolve => setTimeout(resolve, 100))
  }
  log(`GET /api/orders/${posted.body.id} -> ${JSON.stringify(state.body)}`)
  log('')
  log(`mazo is running: API on ${api} (one process), workers in another, Redis at ${shownUrl(redisUrl)}.`)
  log('Send an order:')
  log(`  curl -s -X POST ${api}/api/orders -H 'content-type: application/json' -d '${JSON.stringify(order)}'`)
  log(`  curl -s ${api}/api/orders/<id>      # state, result and the chained email/inventory jobs`)
  log(`  curl -s ${api}/api/health`)
  log('Press Ctrl+C to stop (both processes shut down gracefully).')
  const first = await Promise.race(children.map((handle, i) => handle.exited.then(code => ({ i, code }))))
  if (!stopping) {
    log(`${['api', 'workers'][first.i]} exited unexpectedly with code ${first.code}`)
    await stop(1)
  }
}
catch (error) {
  console.error(`[main] ${error.message}`)
  await stop(1)
}
