import { fork, type ChildProcess } from 'node:child_process'

export interface SpawnWorkerProcessOptions {
  /** The worker process entry (`index.mjs`). */
  entry: string
  /** Flags for the worker process (`--workers=...`, `--shutdown-timeout=...`). */
  args?: string[]
  env?: NodeJS.ProcessEnv
  cwd?: string
}

/** A running worker process. */
export interface WorkerProcess {
  readonly child: ChildProcess
  /** Resolves when the process reports its workers connected; rejects if it exits first. */
  readonly ready: Promise<void>
  /** Resolves with the exit code (128 + signal number when killed). */
  readonly exited: Promise<number>
  /** True once it has exited. */
  readonly done: boolean
  /**
   * Graceful stop: SIGTERM (the process finishes active jobs within its own deadline). With
   * `forceAfterMs`, a second signal after that long (active jobs go back to the queue), then
   * SIGKILL 3 s later; without it, the process's own deadline is the only bound.
   */
  stop(forceAfterMs?: number): Promise<number>
  /** Sends a signal now (a second SIGINT after `stop()` forces the worker process). */
  signal(name: NodeJS.Signals): void
}

const SIGNALS: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 }

/**
 * Starts a worker process with an IPC channel: it reports readiness over IPC and stops by
 * itself when this process goes away, so no orphan is left even after a crash of the parent.
 */
export function spawnWorkerProcess(options: SpawnWorkerProcessOptions): WorkerProcess {
  const child = fork(options.entry, options.args ?? [], {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    // Its own process group: a terminal's Ctrl+C reaches only us, and we forward one signal.
    detached: true,
  })
  let done = false
  const exited = new Promise<number>((resolve) => {
    child.once('exit', (code, signal) => {
      done = true
      resolve(code ?? 128 + (SIGNALS[signal as NodeJS.Signals] ?? 0))
    })
  })
  const ready = new Promise<void>((resolve, reject) => {
    child.on('message', (message) => {
      if ((message as { type?: string } | null)?.type === 'czo:ready') resolve()
    })
    void exited.then(code => reject(new Error(`the worker process exited with code ${code} before it was ready`)))
  })
  ready.catch(() => {})
  const signal = (name: NodeJS.Signals) => {
    if (!done) child.kill(name)
  }
  let stopping: Promise<number> | undefined
  return {
    child,
    ready,
    exited,
    get done() {
      return done
    },
    signal,
    stop(forceAfterMs) {
      stopping ??= (async () => {
        signal('SIGTERM')
        const timers = forceAfterMs === undefined
          ? []
          : [setTimeout(() => signal('SIGINT'), forceAfterMs), setTimeout(() => signal('SIGKILL'), forceAfterMs + 3000)]
        const code = await exited
        timers.forEach(clearTimeout)
        return code
      })()
      return stopping
    },
  }
}
