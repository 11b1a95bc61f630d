import { relative } from 'node:path'
import { logger, type ExecutorContext } from '@nx/devkit'
import { loadKitBuild } from '../../kit'
import { toBuildWorkersOptions, type BuildExecutorOptions } from '../../options'

/** `@czo/nx:build`: the kit's `buildWorkers`, with the project's root as `rootDir`. */
export default async function buildExecutor(options: BuildExecutorOptions, context: ExecutorContext): Promise<{ success: boolean }> {
  try {
    const kitOptions = toBuildWorkersOptions(options, context)
    const kit = await loadKitBuild(kitOptions.rootDir)
    const result = await kit.buildWorkers(kitOptions)
    logger.info(`Built ${result.workerFiles.length} worker file(s) into ${relative(context.root, result.outDir) || '.'} (${result.files.length} files).`)
    return { success: true }
  }
  catch (error) {
    // The kit's errors name the file and the import chain; the stack only with --verbose.
    logger.error(context.isVerbose ? (error as Error)?.stack ?? String(error) : (error as Error)?.message ?? String(error))
    return { success: false }
  }
}
