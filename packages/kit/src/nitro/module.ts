/**
 * The kit's Nitro module (nitropack 2.13). Build-time only: it never runs in the server.
 *
 * What it does, and the Nitro hook each part hangs on (the only Nitro-specific surface, kept
 * small so that a move to Nitro 3 touches this file alone):
 * - `setup`: seeds `runtimeConfig.czo` with the kit's defaults (so `NITRO_CZO_*` env vars
 *   override it at runtime) and registers the runtime plugin;
 * - `build:before` (after Nitro emptied the output folder, before Rollup runs): builds the
 *   workers into `<output>/server/workers` with their dependencies left external, and asks
 *   Nitro to trace those dependencies into `<output>/server/node_modules`;
 * - `rollup:before`: keeps `@czo/kit` external (one copy shared by the routes, the plugin and
 *   inline workers) and resolves `#czo/workers`, the only way the server reaches worker code,
 *   used by inline mode alone;
 * - `compiled`: copies the kit itself into `<output>/server/node_modules` when Nitro's tracer
 *   left it out (a workspace package resolves outside any node_modules folder).
 */
import { existsSync } from 'node:fs'
import { copyFile, mkdir, readFile } from 'node:fs/promises'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { dirname, join, normalize, relative, resolve } from 'pathe'
import type { Nitro, NitroModule } from 'nitropack/types'
import { buildWorkers, findWorkerFiles, WorkerDiscoveryError } from '../build/index.js'
import { czoRuntimeConfigSeed, type CzoConfigInput } from '../runtime/config.js'

export interface CzoNitroOptions {
  /** Folder of the worker files, relative to Nitro's `rootDir`. Default `<srcDir>/workers`. */
  workersDir?: string
  /**
   * Default of `runtimeConfig.czo.workers.inline`: run the workers inside the Nitro process.
   * `NITRO_CZO_WORKERS_INLINE=true|false` overrides it at runtime. Default false.
   */
  inline?: boolean
  /** Source maps for the worker output. Default true. */
  sourcemap?: boolean
  /** Minify the worker output. Default: Nitro's `minify`. */
  minify?: boolean
}

/** The id through which the runtime plugin imports the built `_entry.mjs` (inline mode only). */
export const WORKERS_ENTRY_ID = '#czo/workers'

const KIT_ROOT = fileURLToPath(new URL('../../', import.meta.url))
/** The kit's runtime files: what the server and the worker process import at runtime. */
const KIT_RUNTIME_ENTRIES = ['dist/runtime/index.js', 'dist/runner/index.js']
/** The runtime plugin: compiled next to this file (`.ts` when this module runs from source). */
const RUNTIME_PLUGIN = ['./runtime/plugin.js', './runtime/plugin.ts']
  .map(file => fileURLToPath(new URL(file, import.meta.url)))
  .find(file => existsSync(file))!

type Plain = Record<string, unknown>

function isPlain(value: unknown): value is Plain {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** Fills the missing keys of `target` from `defaults`, recursively; set values win. */
function fillDefaults(target: Plain, defaults: Plain): Plain {
  for (const [key, value] of Object.entries(defaults)) {
    if (isPlain(value)) target[key] = fillDefaults(isPlain(target[key]) ? target[key] : {}, value)
    else if (target[key] === undefined || target[key] === null) target[key] = value
  }
  return target
}

/**
 * Seeds `runtimeConfig.czo` with the kit's defaults. Nitro only maps `NITRO_*` env vars onto
 * keys that exist, so without this `NITRO_CZO_REDIS_URL` would be ignored at runtime. Values
 * come from the config file and the defaults only, never from the build machine's env: the
 * runtime config is written into the output.
 */
export function seedRuntimeConfig(nitro: Nitro, options: CzoNitroOptions): CzoConfigInput {
  const runtimeConfig = nitro.options.runtimeConfig as Plain
  const czo = fillDefaults(isPlain(runtimeConfig.czo) ? runtimeConfig.czo : {}, {
    ...czoRuntimeConfigSeed,
    workers: { ...czoRuntimeConfigSeed.workers, ...(options.inline === undefined ? {} : { inline: options.inline }) },
  } as unknown as Plain)
  runtimeConfig.czo = czo
  return czo as CzoConfigInput
}

/** True when inline mode is on for this `nitro dev` session (config or env). */
function inlineAtDevStart(czo: CzoConfigInput): boolean {
  const env = process.env.NITRO_CZO_WORKERS_INLINE
  const value = env !== undefined && env !== '' ? env : czo.workers?.inline
  return ['1', 'true', 'yes', 'on'].includes(String(value).trim().toLowerCase())
}

/** Relative `.js` imports of a compiled kit file (tsc output: static and dynamic imports). */
function relativeImports(code: string): string[] {
  const found = new Set<string>()
  for (const match of code.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)(['"])(\.{1,2}\/[^'"]+)\1/g)) {
    found.add(match[2]!)
  }
  return [...found]
}

/**
 * Copies the kit's runtime files (the entries and every file they import, relatively) and its
 * package.json to `<serverDir>/node_modules/@czo/kit`. Its dependencies were traced by Nitro.
 */
export async function copyKitRuntime(serverDir: string, kitRoot: string = KIT_ROOT): Promise<string[]> {
  const target = join(serverDir, 'node_modules/@czo/kit')
  const queue = KIT_RUNTIME_ENTRIES.map(entry => join(kitRoot, entry))
  const seen = new Set<string>()
  while (queue.length > 0) {
    const file = normalize(queue.pop()!)
    if (seen.has(file)) continue
    seen.add(file)
    if (!existsSync(file)) throw new Error(`[czo] the kit's runtime file ${file} is missing; build @czo/kit first`)
    for (const specifier of relativeImports(await readFile(file, 'utf8'))) queue.push(resolve(dirname(file), specifier))
  }
  const copied = ['package.json', ...[...seen].map(file => relative(kitRoot, file))].sort()
  for (const file of copied) {
    await mkdir(dirname(join(target, file)), { recursive: true })
    await copyFile(join(kitRoot, file), join(target, file))
  }
  return copied
}

/** Where the worker output goes: next to the server output in a build, in the build dir in dev. */
function workersOutputDir(nitro: Nitro): string {
  return nitro.options.dev ? join(nitro.options.buildDir, 'czo') : nitro.options.output.dir
}

export function czo(options: CzoNitroOptions = {}): NitroModule {
  return {
    name: 'czo',
    async setup(nitro) {
      const czoConfig = seedRuntimeConfig(nitro, options)
      // Nitro rebuilds runtimeConfig from the config file when it changes in dev.
      nitro.hooks.hook('rollup:reload', () => {
        seedRuntimeConfig(nitro, options)
      })
      if (!nitro.options.plugins.includes(RUNTIME_PLUGIN)) nitro.options.plugins.push(RUNTIME_PLUGIN)
      // The plugin imports nitropack/runtime: it must be bundled, also in dev where Nitro would
      // otherwise load any valid ESM file natively.
      const externals = (nitro.options.externals ??= {} as typeof nitro.options.externals)
      externals.inline = [...(externals.inline ?? []), dirname(RUNTIME_PLUGIN)]

      // The prerenderer is a throw-away Nitro build: it gets the plugin, not the worker output.
      const prerender = nitro.options.preset === 'nitro-prerender'
      const rootDir = nitro.options.rootDir
      const workersDir = options.workersDir ?? relative(rootDir, join(nitro.options.srcDir, 'workers'))
      const outputDir = workersOutputDir(nitro)
      const workersEntry = join(outputDir, 'server/workers/_entry.mjs')

      if (!nitro.options.dev && !prerender) {
        const expected = join(nitro.options.output.dir, 'server')
        if (normalize(nitro.options.output.serverDir) !== normalize(expected)) {
          throw new Error(`[czo] the worker output goes to ${expected}, but preset "${nitro.options.preset}" puts the server in ${nitro.options.output.serverDir}. Use a Node.js preset (node-server, node-cluster).`)
        }
      }

      nitro.hooks.hook('build:before', async () => {
        if (prerender) return
        if (nitro.options.dev && !inlineAtDevStart(nitro.options.runtimeConfig.czo as CzoConfigInput ?? czoConfig)) return
        const started = Date.now()
        try {
          await findWorkerFiles({ rootDir, workersDir })
        }
        catch (error) {
          if (!(error instanceof WorkerDiscoveryError)) throw error
          // An app without workers (yet) still builds; there is just no worker process.
          nitro.logger.warn(`[czo] ${error.message.split('. ')[0]}: no worker process is built.`)
          return
        }
        const result = await buildWorkers({
          rootDir,
          workersDir,
          outputDir,
          bundleDependencies: false,
          sourcemap: options.sourcemap ?? true,
          minify: options.minify ?? nitro.options.minify,
          // What nitro.config.ts sets reaches the worker process too, under the same env overrides.
          runtimeConfig: nitro.options.runtimeConfig.czo as CzoConfigInput,
        })
        nitro.logger.success(`[czo] ${result.workerFiles.length} worker file${result.workerFiles.length === 1 ? '' : 's'} built to ${relative(rootDir, result.outDir)} in ${Date.now() - started} ms`)
        if (nitro.options.dev) return
        // Nitro traces these files' imports (bullmq, ioredis, whatever the workers import) into
        // <output>/server/node_modules, as it does for the server's own externals.
        const workerOutputs = result.files.filter(file => file.endsWith('.mjs')).map(file => join(result.outDir, file))
        externals.traceInclude = [
          ...(externals.traceInclude ?? []),
          ...workerOutputs,
          ...KIT_RUNTIME_ENTRIES.map(entry => join(KIT_ROOT, entry)),
        ]
      })

      nitro.hooks.hook('rollup:before', (_nitro, rollupConfig) => {
        const plugins = Array.isArray(rollupConfig.plugins) ? rollupConfig.plugins : []
        const serverDir = nitro.options.output.serverDir
        const kitPlugin = {
          name: 'czo:kit',
          resolveId(id: string) {
            // Left as is, then rewritten per chunk below: the built server finds its workers
            // relatively, so the output folder can be moved.
            if (id === WORKERS_ENTRY_ID) return { id, external: true }
            // One copy of the kit per process: the routes' queues, the plugin's closeAll() and
            // inline workers share connections and config.
            if (id === '@czo/kit' || id === '@czo/kit/runner') return { id, external: true }
            return null
          },
          renderChunk(code: string, chunk: { fileName: string }) {
            if (!code.includes(WORKERS_ENTRY_ID)) return null
            const target = nitro.options.dev || prerender
              ? pathToFileURL(workersEntry).href
              : `./${relative(dirname(join(serverDir, chunk.fileName)), workersEntry)}`.replace(/^\.\/\.\.\//, '../')
            return { code: code.replaceAll(`'${WORKERS_ENTRY_ID}'`, JSON.stringify(target)).replaceAll(`"${WORKERS_ENTRY_ID}"`, JSON.stringify(target)), map: null }
          },
        }
        rollupConfig.plugins = [kitPlugin, ...plugins]
      })

      nitro.hooks.hook('compiled', async () => {
        if (nitro.options.dev || prerender) return
        const serverDir = nitro.options.output.serverDir
        if (existsSync(join(serverDir, 'node_modules/@czo/kit/package.json'))) return
        await copyKitRuntime(serverDir)
      })
    },
  }
}
