import { isWorkerDefinition, type WorkerDefinition } from '../runtime/define-worker.js'

/** One discovered worker file, as the generated `_entry.mjs` lists it. */
export interface WorkerEntry {
  /** Path relative to the app root, for messages. */
  file: string
  load: () => Promise<Record<string, unknown>>
}

/** A worker file could not be turned into a definition; the message names the file(s). */
export class WorkerLoadError extends Error {
  override name = 'WorkerLoadError'
  constructor(readonly files: string[], message: string, options?: { cause?: unknown }) {
    super(message, options)
  }
}

function describe(value: unknown): string {
  if (value === null) return 'null'
  if (typeof value === 'function') return 'a function'
  if (typeof value === 'object') return `an object with keys ${JSON.stringify(Object.keys(value as object))}`
  return `${typeof value} ${JSON.stringify(value)}`
}

/**
 * Imports every worker file and checks it: a default export made by `defineWorker`, and no
 * two files with the same worker name. Errors name the file; import errors keep their stack.
 */
export async function loadWorkerDefinitions(entries: readonly WorkerEntry[]): Promise<WorkerDefinition<any, any>[]> {
  const definitions: WorkerDefinition<any, any>[] = []
  const fileOf = new Map<string, string>()
  for (const entry of entries) {
    let module: Record<string, unknown>
    try {
      module = await entry.load()
    }
    catch (error) {
      const original = error instanceof Error ? (error.stack ?? error.message) : String(error)
      throw new WorkerLoadError([entry.file], `${entry.file}: threw while loading:\n${original}`, { cause: error })
    }
    if (!('default' in module) || module.default === undefined) {
      throw new WorkerLoadError([entry.file], `${entry.file}: no default export. A worker file must \`export default defineWorker(name, processor)\`; prefix helper files with "_" or move them out of the workers folder.`)
    }
    const definition = module.default
    if (!isWorkerDefinition(definition)) {
      throw new WorkerLoadError([entry.file], `${entry.file}: the default export is ${describe(definition)}, not a worker definition. Use \`export default defineWorker(name, processor)\`.`)
    }
    const existing = fileOf.get(definition.name)
    if (existing !== undefined) {
      throw new WorkerLoadError([existing, entry.file], `Worker "${definition.name}" is defined twice: in ${existing} and in ${entry.file}. Worker names must be unique.`)
    }
    fileOf.set(definition.name, entry.file)
    definitions.push(definition)
  }
  return definitions
}
