import type { WorkerDefinition } from '../runtime/define-worker.js'

/** Bad `--workers` / `CZO_WORKERS` selection; `source` names the flag or variable. */
export class WorkerSelectionError extends Error {
  override name = 'WorkerSelectionError'
  constructor(readonly source: string, message: string) {
    super(message)
  }
}

/** Parses `a,b` into names; an empty list is an error, since it would start nothing. */
export function parseWorkerList(value: string, source: string): string[] {
  const names = value.split(',').map(name => name.trim()).filter(Boolean)
  if (names.length === 0) throw new WorkerSelectionError(source, `${source} is empty; give one or more worker names separated by commas`)
  return [...new Set(names)]
}

/** Keeps the named definitions, in the order given; unknown names are an error listing the known ones. */
export function selectWorkers<T extends WorkerDefinition<any, any>>(definitions: readonly T[], names: readonly string[] | undefined, source = '--workers'): T[] {
  if (definitions.length === 0) throw new WorkerSelectionError(source, 'no workers to start')
  if (names === undefined) return [...definitions]
  const byName = new Map(definitions.map(definition => [definition.name, definition]))
  const unknown = names.filter(name => !byName.has(name))
  if (unknown.length > 0) {
    const known = [...byName.keys()].sort().join(', ')
    throw new WorkerSelectionError(source, `${source}: unknown worker${unknown.length > 1 ? 's' : ''} ${unknown.map(n => `"${n}"`).join(', ')}. Known workers: ${known}`)
  }
  return names.map(name => byName.get(name)!)
}
