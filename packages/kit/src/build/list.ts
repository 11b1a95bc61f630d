import { rm } from 'node:fs/promises'
import { pathToFileURL } from 'node:url'
import { join } from 'pathe'
import { useCzoConfig } from '../runtime/config.js'
import { effectiveWorkerOptions } from '../runner/effective-options.js'
import { loadWorkerDefinitions, type WorkerEntry } from '../runner/load.js'
import { buildWorkers } from './build.js'
import { resolveLayout } from './discover.js'
import type { WorkersLayout } from './types.js'

export interface ListedWorker {
  name: string
  file: string
  queue: string
  options: Record<string, unknown>
}

/**
 * The app's workers as the worker process would start them: builds them to a scratch folder,
 * imports the definitions (worker files open nothing at import) and fills in BullMQ defaults.
 */
export async function listWorkers(layout: Omit<WorkersLayout, 'outputDir'>): Promise<ListedWorker[]> {
  const prefix = useCzoConfig().redis.prefix
  const scratch = join(resolveLayout(layout).rootDir, '.czo/list')
  try {
    const result = await buildWorkers({ ...layout, outputDir: scratch, sourcemap: false })
    const entryUrl = pathToFileURL(join(result.outDir, '_entry.mjs')).href
    const { workers } = await import(`${entryUrl}?t=${Date.now()}`) as { workers: WorkerEntry[] }
    const definitions = await loadWorkerDefinitions(workers)
    return definitions.map((definition, index) => ({
      name: definition.name,
      file: workers[index]!.file,
      queue: definition.name,
      options: effectiveWorkerOptions(definition, prefix),
    }))
  }
  finally {
    await rm(scratch, { recursive: true, force: true })
  }
}
