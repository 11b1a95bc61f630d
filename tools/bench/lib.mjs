// Shared helpers for the benchmarks: tracked child processes (stopped by pid/process group,
// also on errors and Ctrl+C), a private redis-server, statistics, machine facts, results.
// Plain .mjs, runnable with `node`; no dependency beyond what the workspace already installs.
import { spawn, fork } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { cpus, tmpdir, totalmem } from 'node:os'
import { dirname, join } from 'node:path'
import { createRequire } from 'node:module'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { execFileSync } from 'node:child_process'
import { freePort, rawCommand } from '../redis/resp.mjs'

export { freePort, rawCommand }

export const REPO = fileURLToPath(new URL('../..', import.meta.url))
export const KIT_DIR = join(REPO, 'packages/kit')
export const MAZO_DIR = join(REPO, 'apps/mazo')
export const CZO_BIN = join(KIT_DIR, 'bin/czo.mjs')
export const BUILDS_DIR = join(REPO, 'tools/bench/.builds')
export const NITRO_BIN = join(MAZO_DIR, 'node_modules/nitropack/dist/cli/index.mjs')

const kitRequire = createRequire(join(KIT_DIR, 'package.json'))
/** The kit's own copies of bullmq and ioredis (the root has none). */
export async function loadBullmq() {
  return import(pathToFileURL(kitRequire.resolve('bullmq')).href)
}
export async function loadIoredis() {
  const mod = await import(pathToFileURL(kitRequire.resolve('ioredis')).href)
  return mod.Redis ?? mod.default
}
export const BULLMQ_PATH = kitRequire.resolve('bullmq')

// ---------------------------------------------------------------------------------------------
// Processes

const owned = new Set()
const cleanups = []

function killGroup(child, signal) {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return
  try {
    process.kill(-child.pid, signal)
  }
  catch {
    try {
      child.kill(signal)
    }
    catch {}
  }
}

let hooked = false
let stopping = false
function hookExit() {
  if (hooked) return
  hooked = true
  process.on('exit', () => {
    for (const child of owned) killGroup(child, 'SIGKILL')
    for (const fn of cleanups.splice(0).reverse()) {
      try {
        fn()
      }
      catch {}
    }
  })
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.once(signal, () => {
      console.error(`\n[bench] ${signal}: stopping everything this benchmark started`)
      stopping = true
      // SIGTERM first, so that a child benchmark (run-all) stops its own processes too; what is
      // left after 3 s is killed by the exit handler.
      const children = [...owned]
      for (const child of children) killGroup(child, 'SIGTERM')
      const deadline = setTimeout(() => process.exit(130), 3000)
      void Promise.all(children.map(child => new Promise(resolve => child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', resolve))))
        .then(() => {
          clearTimeout(deadline)
          process.exit(130)
        })
    })
  }
}

/** Runs `fn` at exit (synchronously), e.g. to remove a temp dir. */
export function onExit(fn) {
  hookExit()
  cleanups.push(fn)
}

export function tempDir(prefix) {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  onExit(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

const SIGNALS = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 }

/**
 * Starts a process in its own process group, output captured; `ipc: true` forks a Node
 * script with an IPC channel (messages collected).
 */
export function spawnTracked(command, args, options = {}) {
  hookExit()
  // Interrupted: start nothing more.
  if (stopping) throw new Error('interrupted: not starting anything more')
  const { ipc, ...rest } = options
  const child = ipc
    ? fork(args[0], args.slice(1), { ...rest, execPath: command, detached: true, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] })
    : spawn(command, args, { ...rest, detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
  const spawnedAt = performance.now()
  owned.add(child)
  let output = ''
  const listeners = new Set()
  const lineListeners = new Set()
  let partial = ''
  const onData = (chunk) => {
    const text = chunk.toString()
    output += text
    if (output.length > 2_000_000) output = output.slice(-1_000_000)
    partial += text
    const lines = partial.split('\n')
    partial = lines.pop()
    for (const line of lines) for (const listener of lineListeners) listener(line, performance.now())
    for (const listener of listeners) listener()
  }
  child.stdout?.on('data', onData)
  child.stderr?.on('data', onData)
  const messages = []
  child.on('message', (message) => {
    messages.push({ message, at: performance.now() })
    for (const listener of listeners) listener()
  })
  let exitedAt
  const exit = new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      exitedAt = performance.now()
      owned.delete(child)
      for (const listener of listeners) listener()
      resolve(code ?? 128 + (SIGNALS[signal ?? ''] ?? 0))
    })
  })
  const done = () => child.exitCode !== null || child.signalCode !== null
  const spawned = {
    child,
    pid: child.pid,
    spawnedAt,
    output: () => output,
    get exitedAt() {
      return exitedAt
    },
    onLine(listener) {
      lineListeners.add(listener)
      return () => lineListeners.delete(listener)
    },
    /** Resolves when `test()` is true (checked on output, messages and exit); rejects on exit or timeout. */
    waitUntil(test, what, timeoutMs = 20_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const value = test()
          if (value) {
            finish()
            resolve(value)
          }
          else if (done()) {
            finish()
            reject(new Error(`process ${child.pid} exited (${child.exitCode ?? child.signalCode}) before ${what}:\n${output.slice(-4000)}`))
          }
        }
        const timer = setTimeout(() => {
          finish()
          reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}:\n${output.slice(-4000)}`))
        }, timeoutMs)
        const finish = () => {
          clearTimeout(timer)
          listeners.delete(check)
        }
        listeners.add(check)
        check()
      })
    },
    waitFor(pattern, timeoutMs) {
      const test = () => (typeof pattern === 'string' ? output.includes(pattern) : pattern.test(output))
      return spawned.waitUntil(test, String(pattern), timeoutMs)
    },
    waitForMessage(type, timeoutMs) {
      return spawned.waitUntil(() => messages.find(m => m.message?.type === type), `IPC message ${type}`, timeoutMs)
    },
    exited: () => exit,
    signal: signal => killGroup(child, signal),
    /** SIGTERM to the group, SIGKILL after `graceMs`; then the rest of the group goes too. */
    async stop(graceMs = 10_000) {
      killGroup(child, 'SIGTERM')
      const timer = setTimeout(() => killGroup(child, 'SIGKILL'), graceMs)
      const code = await exit
      clearTimeout(timer)
      if (child.pid !== undefined) {
        try {
          process.kill(-child.pid, 'SIGKILL')
        }
        catch {}
      }
      return code
    },
  }
  return spawned
}

/** Stops every tracked process still running (SIGTERM, SIGKILL after `graceMs`). */
export async function stopAll(graceMs = 5000) {
  await Promise.all([...owned].map(child => new Promise((resolve) => {
    child.once('exit', resolve)
    killGroup(child, 'SIGTERM')
    setTimeout(() => killGroup(child, 'SIGKILL'), graceMs).unref()
  })))
}

/** The env of a child process: PATH and HOME only, plus `extra`. */
export function childEnv(extra = {}) {
  return { PATH: process.env.PATH, HOME: process.env.HOME, NODE_ENV: 'production', ...extra }
}

export const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))

// ---------------------------------------------------------------------------------------------
// Redis

/** A private redis-server: free loopback port, temp dir, no persistence; stopped by pid. */
export async function startRedis() {
  const port = await freePort()
  const dir = tempDir('czo-bench-redis-')
  const proc = spawnTracked('redis-server', [
    '--port', String(port), '--bind', '127.0.0.1', '--dir', dir,
    '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--protected-mode', 'yes', '--loglevel', 'warning',
  ])
  const deadline = Date.now() + 10_000
  for (;;) {
    try {
      if ((await rawCommand({ port }, ['PING'], 500)).startsWith('+PONG')) break
    }
    catch {}
    if (Date.now() > deadline) throw new Error(`redis-server did not start on port ${port}:\n${proc.output()}`)
    await sleep(50)
  }
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    proc,
    command: (...args) => rawCommand({ port }, args),
    stop: () => proc.stop(5000),
  }
}

export function redisVersion() {
  try {
    return /v=(\S+)/.exec(execFileSync('redis-server', ['--version'], { encoding: 'utf8' }))?.[1] ?? 'unknown'
  }
  catch {
    return 'unknown'
  }
}

/** Number of clients connected to a Redis (CLIENT LIST lines). */
export async function clientCount(redis) {
  const reply = await rawCommand({ port: redis.port }, ['CLIENT', 'LIST'])
  const body = reply.slice(reply.indexOf('\r\n') + 2)
  return body.split('\n').filter(line => line.startsWith('id=')).length
}

// ---------------------------------------------------------------------------------------------
// Builds

/** A fixture app in a temp dir (the kit's build resolves @czo/kit itself). */
export function makeApp(files) {
  const dir = tempDir('czo-bench-app-')
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true })
    writeFileSync(join(dir, path), content)
  }
  return dir
}

/** `czo workers:build --cwd <dir>`. */
export async function czoBuild(dir) {
  const build = spawnTracked(process.execPath, [CZO_BIN, 'workers:build', '--cwd', dir], { cwd: dir, env: childEnv() })
  const timer = setTimeout(() => build.signal('SIGKILL'), 120_000)
  const code = await build.exited()
  clearTimeout(timer)
  if (code !== 0) throw new Error(`czo workers:build failed (${code}):\n${build.output()}`)
}

/**
 * mazo built with `nitro build` in a temp copy of the app (apps/mazo and its .output are left
 * alone); its node_modules is a symlink to apps/mazo's. Reuses CZO_BENCH_MAZO_ROOT when set
 * (run-all builds once for every benchmark). Returns the folder holding `.output`.
 */
export async function buildMazo(log = console.log) {
  const given = process.env.CZO_BENCH_MAZO_ROOT
  if (given && existsSync(join(given, '.output/server/index.mjs'))) return given
  // Inside the repository (Nitro's file tracer needs the kit under the same root), in a folder
  // of tools/bench that git ignores; removed at exit.
  mkdirSync(BUILDS_DIR, { recursive: true })
  const dir = mkdtempSync(join(BUILDS_DIR, 'mazo-'))
  onExit(() => rmSync(dir, { recursive: true, force: true }))
  for (const name of readdirSync(MAZO_DIR)) {
    if (['node_modules', '.output', '.nitro', '.test-builds', '.czo', 'test', 'project.json'].includes(name)) continue
    cpSync(join(MAZO_DIR, name), join(dir, name), { recursive: true })
  }
  // node_modules: absolute symlinks to what apps/mazo's point at (pnpm's are relative, and
  // Nitro's tracer resolves them from where they are seen).
  const linkAll = (from, to) => {
    mkdirSync(to, { recursive: true })
    for (const name of readdirSync(from)) {
      if (name === '.bin') continue
      if (name.startsWith('@')) linkAll(join(from, name), join(to, name))
      else symlinkSync(realpathSync(join(from, name)), join(to, name), 'dir')
    }
  }
  linkAll(join(MAZO_DIR, 'node_modules'), join(dir, 'node_modules'))
  const started = performance.now()
  const build = spawnTracked(process.execPath, [NITRO_BIN, 'build', dir], { cwd: dir, env: childEnv() })
  const timer = setTimeout(() => build.signal('SIGKILL'), 180_000)
  const code = await build.exited()
  clearTimeout(timer)
  if (code !== 0) throw new Error(`nitro build of mazo failed (${code}):\n${build.output()}`)
  log(`[bench] built mazo in ${Math.round(performance.now() - started)} ms (${dir})`)
  return dir
}

// ---------------------------------------------------------------------------------------------
// Statistics and reporting

export function median(values) {
  const sorted = values.filter(v => Number.isFinite(v)).sort((a, b) => a - b)
  if (sorted.length === 0) return Number.NaN
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

export function quantile(values, q) {
  const sorted = values.filter(v => Number.isFinite(v)).sort((a, b) => a - b)
  if (sorted.length === 0) return Number.NaN
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]
}

export function fmt(value, digits = 0) {
  if (!Number.isFinite(value)) return 'n/a'
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
}

export function ratio(value, base, digits = 2) {
  if (!Number.isFinite(value) || !Number.isFinite(base) || base === 0) return 'n/a'
  return `${(value / base).toFixed(digits)}×`
}

export function mdTable(header, rows) {
  const line = cells => `| ${cells.join(' | ')} |`
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n')
}

export function machine() {
  const cpu = cpus()
  return {
    cpu: cpu[0]?.model?.trim() ?? 'unknown',
    cores: cpu.length,
    memoryGiB: Math.round(totalmem() / 2 ** 30 * 10) / 10,
    node: process.version,
    redis: redisVersion(),
    platform: `${process.platform} ${process.arch}`,
  }
}

/** Peak and current RSS of a process in MB, from /proc/<pid>/status. */
export function memoryOf(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8')
    const kb = name => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN)
    return { hwmMB: kb('VmHWM') / 1024, rssMB: kb('VmRSS') / 1024 }
  }
  catch {
    return { hwmMB: Number.NaN, rssMB: Number.NaN }
  }
}

/**
 * Runs a benchmark: `fn` returns `{ title, markdown, targets: [{ name, measured, target, met }], notes }`.
 * Prints the markdown; with `--json <file>`, also writes the result there (run-all reads it).
 * A benchmark reports, it does not fail: errors are reported in the result too.
 * `budgetMs` bounds the whole run.
 */
export async function runBench(name, budgetMs, fn) {
  hookExit()
  const jsonAt = process.argv.indexOf('--json')
  const jsonFile = jsonAt > 0 ? process.argv[jsonAt + 1] : undefined
  const started = Date.now()
  const budget = setTimeout(() => {
    console.error(`[bench] ${name}: over its time budget of ${budgetMs / 1000} s, stopping`)
    if (jsonFile) writeFileSync(jsonFile, JSON.stringify({ name, error: `over its time budget of ${budgetMs / 1000} s` }))
    process.exit(3)
  }, budgetMs)
  budget.unref()
  let result
  try {
    result = { name, ...(await fn()) }
  }
  catch (error) {
    console.error(`[bench] ${name} failed:`, error)
    result = { name, error: String(error?.stack ?? error) }
  }
  result.seconds = Math.round((Date.now() - started) / 1000)
  await stopAll()
  clearTimeout(budget)
  if (result.markdown) console.log(`\n${result.markdown}\n`)
  for (const target of result.targets ?? []) console.log(`  ${target.met ? 'met   ' : 'MISSED'} ${target.name}: ${target.measured} (target ${target.target})`)
  if (jsonFile) writeFileSync(jsonFile, JSON.stringify(result, null, 2))
  process.exit(0)
}

/** Flags given as `--name=value` or `--name value`. */
export function flag(name, fallback) {
  const args = process.argv.slice(2)
  for (let i = 0; i < args.length; i++) {
    if (args[i] === `--${name}`) return args[i + 1]
    if (args[i].startsWith(`--${name}=`)) return args[i].slice(name.length + 3)
  }
  return fallback
}
