import type { WorkersLayout } from '../build/types.js'

export interface WorkerProcessOptions extends WorkersLayout {
  /** Start only these workers (`--workers`). */
  workers?: string[]
  /** Shutdown deadline of the worker process (ms). */
  shutdownTimeout?: number
  /**
   * The deadline when nothing else sets one: neither `shutdownTimeout` nor, in the worker
   * process's environment, `CZO_SHUTDOWN_TIMEOUT` or `NITRO_CZO_WORKERS_SHUTDOWN_TIMEOUT`. For
   * hosts that kill a stopping process after a fixed delay (Nx does, about 5 s after a stop).
   */
  defaultShutdownTimeout?: number
  env?: NodeJS.ProcessEnv
}

/** A worker process (or, in dev, the watcher and its current worker process). */
export interface WorkerProcessHandle {
  /** Resolves once the (first) worker process reported ready. */
  ready: Promise<void>
  /** Resolves with the exit code once everything has stopped. */
  exited: Promise<number>
  /** Graceful stop; resolves with the exit code. */
  stop(): Promise<number>
  /** Forces a stop in progress: active jobs go back to the queue at once. */
  force(): void
}

/** The variables through which the worker process reads its shutdown deadline. */
const SHUTDOWN_TIMEOUT_VARIABLES = ['CZO_SHUTDOWN_TIMEOUT', 'NITRO_CZO_WORKERS_SHUTDOWN_TIMEOUT'] as const

/** Flags for the worker process from the options (its env: `options.env`, else this process's). */
export function workerProcessArgs(options: WorkerProcessOptions): string[] {
  const args: string[] = []
  if (options.workers !== undefined) args.push(`--workers=${options.workers.join(',')}`)
  const env = options.env ?? process.env
  const fromEnv = SHUTDOWN_TIMEOUT_VARIABLES.some(name => (env[name] ?? '') !== '')
  const timeout = options.shutdownTimeout ?? (fromEnv ? undefined : options.defaultShutdownTimeout)
  if (timeout !== undefined) args.push(`--shutdown-timeout=${timeout}`)
  return args
}
