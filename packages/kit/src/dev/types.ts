import type { WorkersLayout } from '../build/types.js'

export interface WorkerProcessOptions extends WorkersLayout {
  /** Start only these workers (`--workers`). */
  workers?: string[]
  /** Shutdown deadline of the worker process (ms). */
  shutdownTimeout?: number
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

/** Flags for the worker process from the options. */
export function workerProcessArgs(options: WorkerProcessOptions): string[] {
  const args: string[] = []
  if (options.workers !== undefined) args.push(`--workers=${options.workers.join(',')}`)
  if (options.shutdownTimeout !== undefined) args.push(`--shutdown-timeout=${options.shutdownTimeout}`)
  return args
}
