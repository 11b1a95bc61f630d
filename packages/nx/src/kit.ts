/**
 * The only bridge from this plugin to `@czo/kit/build`. The kit owns every piece of logic
 * (discovery, bundling, the dev runner, the production runner); the executors only map options.
 *
 * Types come from the kit itself (a type-only import across the CommonJS/ESM boundary).
 */
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'

import type {
  BuildWorkersOptions,
  BuildWorkersResult,
  WorkerProcessHandle,
  WorkerProcessOptions,
} from '@czo/kit/build' with { 'resolution-mode': 'import' }

export type { BuildWorkersOptions, BuildWorkersResult, WorkerProcessHandle, WorkerProcessOptions }

export interface KitBuild {
  buildWorkers(options: BuildWorkersOptions): Promise<BuildWorkersResult>
  startDevWorkers(options: WorkerProcessOptions): Promise<WorkerProcessHandle>
  startBuiltWorkers(options: WorkerProcessOptions): WorkerProcessHandle
}

/**
 * A real `import()`, which TypeScript leaves alone only in some module modes and which
 * Nx's swc-node transpiler (used when the plugin is loaded from its TypeScript sources)
 * rewrites to `require()`. `@czo/kit` is ESM-only, so it must be a real dynamic import in
 * both cases; a function body is never transformed.
 */
// eslint-disable-next-line no-new-func
const dynamicImport = new Function('specifier', 'return import(specifier)') as (specifier: string) => Promise<unknown>

/**
 * Loads `@czo/kit/build` as resolved from the app (so the app's own kit version is used),
 * falling back to the copy next to this plugin.
 */
export async function loadKitBuild(fromDir: string): Promise<KitBuild> {
  const searchFrom = [join(fromDir, 'package.json'), join(__dirname, 'package.json')]
  let resolved: string | undefined
  let lastError: unknown
  for (const from of searchFrom) {
    try {
      resolved = createRequire(from).resolve('@czo/kit/build')
      break
    }
    catch (error) {
      lastError = error
    }
  }
  if (!resolved) {
    throw new Error(`@czo/nx: cannot resolve "@czo/kit/build" from ${fromDir}. Add @czo/kit to the app's dependencies and build it (pnpm --filter @czo/kit build). (${(lastError as Error)?.message ?? lastError})`)
  }
  const kit = await dynamicImport(pathToFileURL(resolved).href) as Partial<KitBuild>
  const missing = (['buildWorkers', 'startDevWorkers', 'startBuiltWorkers'] as const).filter(name => typeof kit[name] !== 'function')
  if (missing.length > 0) {
    throw new Error(`@czo/nx: ${resolved} does not export ${missing.join(', ')}; this plugin needs a @czo/kit that provides them (rebuild the kit).`)
  }
  return kit as KitBuild
}
