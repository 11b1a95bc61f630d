import type { WorkerProcessHandle } from '../dev/types.js'

/**
 * Keeps the CLI in the foreground while a worker process (or the dev watcher) runs:
 * the first SIGINT/SIGTERM stops it gracefully, a second one forces it. Resolves with its exit code.
 */
export async function runInForeground(handle: WorkerProcessHandle, events: Pick<NodeJS.EventEmitter, 'on' | 'off'> = process): Promise<number> {
  let signals = 0
  const onSignal = () => {
    signals++
    if (signals === 1) void handle.stop()
    else handle.force()
  }
  events.on('SIGINT', onSignal)
  events.on('SIGTERM', onSignal)
  try {
    return await handle.exited
  }
  finally {
    events.off('SIGINT', onSignal)
    events.off('SIGTERM', onSignal)
  }
}
