import type { ExecutorContext } from '@nx/devkit'
import { loadKitBuild } from '../../kit'
import { toWorkerProcessOptions, type ProcessExecutorOptions } from '../../options'
import { runUntilExit, type ExecutorResult } from '../long-running'

/**
 * `@czo/nx:start`: the kit's `startBuiltWorkers` (runs `<outputDir>/server/workers/index.mjs`).
 * Yields once the worker process is ready, then stays pending until it stops.
 */
export default async function* startExecutor(options: ProcessExecutorOptions, context: ExecutorContext): AsyncGenerator<ExecutorResult> {
  yield* runUntilExit({
    label: `${context.projectName ?? ''}:${context.targetName ?? 'start'}`,
    start: async () => {
      const kitOptions = toWorkerProcessOptions('@czo/nx:start', options, context)
      const kit = await loadKitBuild(kitOptions.rootDir)
      return kit.startBuiltWorkers(kitOptions)
    },
  })
}
