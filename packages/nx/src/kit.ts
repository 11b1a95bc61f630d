/**
 * The only bridge from this plugin to `@czo/kit/build`. The kit owns every piece of logic
 * (discovery, bundling, the dev runner, the production runner); the executors only map options.
 *
 * The types below restate the kit's public contract for `@czo/kit/build` so that this CommonJS
 * package typechecks without importing types across the CommonJS/ESM boundary.
 */
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'

export interface WorkersLayout {
  rootDir: string
  workersDir?: string
  outputDir?: string
}

export interface BuildWorkersOptions extends WorkersLayout {
  bundleDependencies?: boolean
  sourcemap?: boolean
  minify?: boolean
}

export interface BuildWorkersResult {
  outDir: string
  entry: string
  workerFiles: string[]
  files: string[]
  inputs: string[]
}

export interface WorkerProcessOptions extends WorkersLayout {
  workers?: string[]
  shutdownTimeout?: number
  env?: NodeJS.ProcessEnv
}

export interface WorkerProcessHandle {
  ready: Promise<void>
  exited: Promise<number>
  stop(): Promise<number>
  /** Forces a stop in progress (active jobs go back to the queue at once). */
  force?(): void
}

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
