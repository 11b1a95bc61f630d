import type { ArgsDef } from 'citty'
import { parseTimeout, UsageError } from '../runner/args.js'
import { parseWorkerList } from '../runner/select.js'

/** Flags shared by the `workers:*` commands. */
export const cwdArg = {
  cwd: { type: 'string', description: 'The app folder (with server/workers)', default: '.' },
  dir: { type: 'string', description: 'Workers folder, relative to --cwd', default: 'server/workers' },
} as const satisfies ArgsDef

export const outputArg = {
  output: { type: 'string', description: 'Build output folder, relative to --cwd', default: '.output' },
} as const satisfies ArgsDef

export const runArgs = {
  'workers': { type: 'string', description: 'Start only these workers, comma-separated (env CZO_WORKERS)' },
  'shutdown-timeout': { type: 'string', description: 'Graceful shutdown bound in ms (env CZO_SHUTDOWN_TIMEOUT, default 25000)' },
} as const satisfies ArgsDef

function kebab(name: string): string {
  return name.replace(/[A-Z]/g, c => `-${c.toLowerCase()}`)
}

/** citty accepts any flag; a typo must not silently start everything. */
export function assertKnownFlags(rawArgs: readonly string[], args: ArgsDef): void {
  const types = new Map<string, string>([['help', 'boolean'], ['h', 'boolean']])
  for (const [name, def] of Object.entries(args)) {
    types.set(name, def.type ?? 'string')
    types.set(kebab(name), def.type ?? 'string')
    if (def.type === 'boolean') types.set(`no-${name}`, 'boolean')
  }
  for (let i = 0; i < rawArgs.length; i++) {
    const raw = rawArgs[i]!
    if (raw === '--') break
    const match = /^--?([^=]+)(=)?/.exec(raw)
    if (!match || raw === '-') throw new UsageError(`unexpected argument "${raw}"; see --help`)
    const type = types.get(match[1]!)
    if (type === undefined) throw new UsageError(`unknown flag ${raw.split('=')[0]}; see --help`)
    // `--cwd path`: the next word is the value.
    if (type === 'string' && match[2] === undefined && i + 1 < rawArgs.length && !rawArgs[i + 1]!.startsWith('-')) i++
  }
}

/** A string flag given without a value (`--workers` at the end) arrives as `true` or ''. */
export function stringFlag(value: unknown, flag: string): string | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'string' || value === '') throw new UsageError(`--${flag} needs a value`)
  return value
}

/**
 * `--workers` and `--shutdown-timeout`, checked here so a typo fails before anything starts.
 * CZO_WORKERS and CZO_SHUTDOWN_TIMEOUT are left to the worker process, which inherits the env.
 */
export function runOptions(args: Record<string, unknown>): { workers?: string[], shutdownTimeout?: number } {
  const workersFlag = stringFlag(args.workers, 'workers')
  const timeoutFlag = stringFlag(args['shutdown-timeout'], 'shutdown-timeout')
  return {
    ...(workersFlag !== undefined ? { workers: parseWorkerList(workersFlag, '--workers') } : {}),
    ...(timeoutFlag !== undefined ? { shutdownTimeout: parseTimeout(timeoutFlag, '--shutdown-timeout') } : {}),
  }
}
