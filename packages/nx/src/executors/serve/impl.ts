import type { ExecutorContext } from '@nx/devkit'
import { loadKitBuild } from '../../kit'
import { toWorkerProcessOptions, type ProcessExecutorOptions } from '../../options'
import { runUntilExit, type ExecutorResult } from '../long-running'

/**
 * `@czo/nx:serve`: the kit's `startDevWorkers` (watch + restart in a child process).
 * Yields once the first worker child is ready, then stays pending until it stops.
 */
export default async function* serveExecutor(options: ProcessExecutorOptions, context: ExecutorContext): AsyncGenerator<ExecutorResult> {
  yield* runUntilExit({
    label: `${context.projectName ?? ''}:${context.targetName ?? 'serve'}`,
    start: async () => {
      const kitOptions = toWorkerProcessOptions('@czo/nx:serve', options, context)
      const kit = await loadKitBuild(kitOptions.rootDir)
      return kit.startDevWorkers(kitOptions)
    },
  })
}
