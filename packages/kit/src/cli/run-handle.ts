import type { WorkerProcessHandle } from '../dev/types.js'

/**
 * Keeps the CLI in the foreground while a worker process (or the dev watcher) runs:
 * the first SIGINT/SIGTERM stops it gracefully, a second one forces it. Resolves with its exit code.
 */
export async function runInForeground(handle: WorkerProcessHandle): Promise<number> {
  let signals = 0
  const onSignal = () => {
    signals++
    if (signals === 1) void handle.stop()
    else handle.force()
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  try {
    return await handle.exited
  }
  finally {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }
}
