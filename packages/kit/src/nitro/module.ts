/**
 * The kit's Nitro module (nitropack 2.13). Build-time only: it never runs in the server.
 *
 * What it does, and the Nitro hook each part hangs on (the only Nitro-specific surface, kept
 * small so that a move to Nitro 3 touches this file alone):
 * - `setup`: seeds `runtimeConfig.czo` with the kit's defaults (so `NITRO_CZO_*` env vars
 *   override it at runtime) and registers the runtime plugin;
 * - `build:before` (after Nitro emptied the output folder, before Rollup runs): builds the
 *   workers into `<output>/server/workers` with their dependencies left external, and asks
 *   Nitro to trace those dependencies (but the kit) into `<output>/server/node_modules`;
 * - `rollup:before`: keeps `@czo/kit` external (one copy shared by the routes, the plugin and
 *   inline workers) and resolves `#czo/workers`, the only way the server reaches worker code,
 *   used by inline mode alone;
 * - `compiled`: writes the kit's runtime, bundled with bullmq and ioredis into one file, to
 *   `<output>/server/node_modules/@czo/kit`, where both processes import it.
 */
import { existsSync, realpathSync } from 'node:fs'
import { readFile, rm, writeFile } from 'node:fs/promises'
import { build as esbuild } from 'esbuild'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { dirname, join, normalize, relative, resolve } from 'pathe'
import type { Nitro, NitroModule } from 'nitropack/types'
import { kitBundleOptions } from '../build/bundle.js'
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
/** The one file of the kit's runtime in a build's `server/node_modules/@czo/kit`. */
const KIT_RUNTIME_FILE = 'dist/kit.mjs'
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

/**
 * Writes the kit's runtime to `<serverDir>/node_modules/@czo/kit`: `@czo/kit` and
 * `@czo/kit/runner` as one ES module with bullmq and ioredis bundled in, where the server and
 * the worker process import it. One copy of the kit per process (routes, plugin and inline
 * workers share connections and config), and no ~170 CommonJS files of bullmq to resolve and
 * compile at every start. A copy that Nitro's tracer put there is replaced.
 */
export async function writeKitRuntime(serverDir: string): Promise<string[]> {
  const target = join(serverDir, 'node_modules/@czo/kit')
  const { version } = JSON.parse(await readFile(join(KIT_ROOT, 'package.json'), 'utf8')) as { version: string }
  await rm(target, { recursive: true, force: true })
  await esbuild(kitBundleOptions(join(target, KIT_RUNTIME_FILE)))
  const entry = `./${KIT_RUNTIME_FILE}`
  const manifest = { name: '@czo/kit', version, type: 'module', exports: { '.': entry, './runner': entry, './package.json': './package.json' } }
  await writeFile(join(target, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`)
  return ['package.json', KIT_RUNTIME_FILE]
}

type TraceOptions = NonNullable<Nitro['options']['externals']['traceOptions']>

/**
 * Nitro's tracer leaves the kit alone: {@link writeKitRuntime} ships it bundled, so its files,
 * and bullmq and ioredis through them, would be copied for nothing. An `ignore` of the app's
 * own that is a function still applies; one given as globs is left as it is (the kit is then
 * traced too, and replaced all the same).
 */
function ignoringKit(traceOptions: TraceOptions | undefined): TraceOptions['ignore'] {
  const previous = traceOptions?.ignore
  if (previous !== undefined && typeof previous !== 'function') return previous
  const kitDirs = [...new Set([KIT_ROOT, realpathSync(KIT_ROOT)].map(dir => `${normalize(dir).replace(/\/$/, '')}/`))]
  return (path: string) => {
    // Relative to the tracer's base, which Nitro sets to `/`.
    const full = resolve(traceOptions?.base ?? '/', path)
    return full.includes('/node_modules/@czo/kit/') || kitDirs.some(dir => full.startsWith(dir)) || (previous?.(path) ?? false)
  }
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
        externals.traceOptions = { ...externals.traceOptions, ignore: ignoringKit(externals.traceOptions) }
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
        // Nitro traces these files' imports (whatever the workers import besides the kit, which
        // writeKitRuntime ships) into <output>/server/node_modules, as for the server's externals.
        const workerOutputs = result.files.filter(file => file.endsWith('.mjs')).map(file => join(result.outDir, file))
        externals.traceInclude = [...(externals.traceInclude ?? []), ...workerOutputs]
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
        await writeKitRuntime(nitro.options.output.serverDir)
      })
    },
  }
}
