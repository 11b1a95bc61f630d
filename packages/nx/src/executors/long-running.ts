/**
 * Shared by the `serve` and `start` executors: turns a kit {@link WorkerProcessHandle} into the
 * async iterable Nx expects from a continuous executor, and makes stopping Nx stop the worker
 * process gracefully.
 *
 * - yields `{ success: true }` once the kit reports the worker process ready (and emits Nx's
 *   ready signal, for targets with `readyWhen: { signal: true }`);
 * - stays pending until the worker process exits, then yields `{ success: exitCode === 0 }`;
 * - SIGINT, SIGTERM, SIGHUP, or losing the IPC channel to Nx, calls `handle.stop()` (the kit's
 *   bounded graceful stop), so no worker process outlives the executor.
 */
import { emitReadySignal, logger } from '@nx/devkit'
import type { WorkerProcessHandle } from '../kit'

export interface ExecutorResult {
  success: boolean
  /** Exit code of the worker process, once it stopped. */
  exitCode?: number
}

export interface LongRunningOptions {
  /** Label used in log lines, e.g. `mazo:workers-serve`. */
  label: string
  start: () => Promise<WorkerProcessHandle> | WorkerProcessHandle
  /** The process to watch for signals; injectable for tests. */
  proc?: NodeJS.Process
  /** Called once ready; defaults to Nx's `emitReadySignal`. */
  onReady?: () => void
}

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const

export async function* runUntilExit(options: LongRunningOptions): AsyncGenerator<ExecutorResult> {
  const proc = options.proc ?? process
  const onReady = options.onReady ?? (() => {
    emitReadySignal()
  })
  let handle: WorkerProcessHandle | undefined
  let stopReason: string | undefined
  let stopping: Promise<number> | undefined
  let exited = false

  const requestStop = (reason: string) => {
    // Only the first request counts: Nx itself follows a terminal's SIGINT with a SIGTERM to
    // its task processes, which must not turn a graceful stop into a forced one. The kit's stop
    // is bounded by its own deadline.
    if (stopReason !== undefined) return
    stopReason = reason
    if (handle) stopping = handle.stop()
  }
  const listeners = SIGNALS.map(signal => [signal, () => requestStop(signal)] as const)
  const onDisconnect = () => requestStop('disconnect from Nx')
  for (const [signal, listener] of listeners) proc.on(signal, listener)
  // Forked by Nx with an IPC channel: when Nx goes away without a signal, stop too.
  if (typeof proc.send === 'function') proc.on('disconnect', onDisconnect)

  try {
    try {
      handle = await options.start()
    }
    catch (error) {
      logger.error(`${options.label}: ${(error as Error)?.message ?? error}`)
      yield { success: false }
      return
    }
    void handle.exited.then(() => { exited = true }, () => { exited = true })
    if (stopReason !== undefined) stopping = handle.stop()

    const first = await Promise.race([
      handle.ready.then(() => ({ ready: true as const }), (error: unknown) => ({ ready: false as const, error })),
      handle.exited.then(code => ({ ready: false as const, code })),
    ])
    if (!first.ready) {
      const code = 'code' in first ? first.code : await (stopping ?? handle.stop())
      if (stopReason === undefined) {
        const reason = 'error' in first ? (first.error as Error)?.message ?? String(first.error) : `the worker process exited with code ${code} before it was ready`
        logger.error(`${options.label}: ${reason}`)
      }
      yield { success: stopReason !== undefined && code === 0, exitCode: code }
      return
    }
    if (stopReason === undefined) {
      onReady()
      yield { success: true }
    }
    const code = await handle.exited
    if (stopping) await stopping
    if (stopReason === undefined && code !== 0) logger.error(`${options.label}: the worker process exited with code ${code}`)
    yield { success: code === 0, exitCode: code }
  }
  finally {
    // Also reached when Nx stops iterating early: never leave the worker process behind.
    if (handle && !exited && stopReason === undefined) {
      stopReason = 'executor finished'
      await handle.stop().catch(() => {})
    }
    for (const [signal, listener] of listeners) proc.off(signal, listener)
    proc.off('disconnect', onDisconnect)
  }
}
