import { parseWorkerList, WorkerSelectionError } from './select.js'

/** Options of the worker process, from its flags and environment. */
export interface WorkerProcessArgs {
  /** Selected worker names; undefined means all. */
  workers?: string[]
  /** Where the selection came from, for messages. */
  workersSource: string
  /** Shutdown deadline in ms; undefined means the config default. */
  shutdownTimeout?: number
  help: boolean
}

/** A flag or variable of the worker process is unknown or malformed. */
export class UsageError extends Error {
  override name = 'UsageError'
}

export const WORKER_PROCESS_HELP = `Usage: node index.mjs [--workers=a,b] [--shutdown-timeout=ms]

Runs the app's BullMQ workers (no HTTP server, no Nitro).

  --workers=a,b           start only these workers (env CZO_WORKERS)
  --shutdown-timeout=ms   bound of a graceful shutdown (env CZO_SHUTDOWN_TIMEOUT, default 25000)
  --help                  show this help

Redis: NITRO_CZO_REDIS_URL or REDIS_URL (default redis://127.0.0.1:6379), key prefix NITRO_CZO_REDIS_PREFIX.
Exit codes: 0 stopped cleanly, 1 failure, 2 bad usage, 3 forced stop (active jobs handed back to the queue).`

/** Parses a duration in milliseconds; `source` names the flag or variable in the error. */
export function parseTimeout(value: string, source: string): number {
  if (!/^\d+$/.test(value.trim()) || Number(value) <= 0) {
    throw new UsageError(`${source} must be a positive whole number of milliseconds, got "${value}"`)
  }
  return Number(value)
}

/** Parses the worker process's argv (`--name=value` or `--name value`) and env. Flags win over env. */
export function parseWorkerProcessArgs(argv: readonly string[], env: Record<string, string | undefined>): WorkerProcessArgs {
  const flags = new Map<string, string>()
  let help = false
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    if (arg === '--help' || arg === '-h') {
      help = true
      continue
    }
    const match = /^--([a-z-]+)(?:=(.*))?$/s.exec(arg)
    if (!match) throw new UsageError(`unexpected argument "${arg}"; see --help`)
    const [, name, inline] = match as unknown as [string, string, string | undefined]
    if (name !== 'workers' && name !== 'shutdown-timeout') throw new UsageError(`unknown flag --${name}; see --help`)
    const value = inline ?? argv[++i]
    if (value === undefined || (inline === undefined && value.startsWith('--'))) throw new UsageError(`--${name} needs a value`)
    flags.set(name, value)
  }
  const result: WorkerProcessArgs = { workersSource: '--workers', help }
  try {
    const workersFlag = flags.get('workers')
    if (workersFlag !== undefined) result.workers = parseWorkerList(workersFlag, '--workers')
    else if (env.CZO_WORKERS !== undefined) {
      result.workersSource = 'CZO_WORKERS'
      result.workers = parseWorkerList(env.CZO_WORKERS, 'CZO_WORKERS')
    }
  }
  catch (error) {
    if (error instanceof WorkerSelectionError) throw new UsageError(error.message)
    throw error
  }
  const timeoutFlag = flags.get('shutdown-timeout')
  if (timeoutFlag !== undefined) result.shutdownTimeout = parseTimeout(timeoutFlag, '--shutdown-timeout')
  else if (env.CZO_SHUTDOWN_TIMEOUT !== undefined) result.shutdownTimeout = parseTimeout(env.CZO_SHUTDOWN_TIMEOUT, 'CZO_SHUTDOWN_TIMEOUT')
  return result
}
