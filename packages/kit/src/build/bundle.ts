import type { BuildOptions, Metafile, Plugin } from 'esbuild'
import type { CzoConfigInput } from '../runtime/config.js'
import { relative } from 'pathe'
import { processEntryCode, workersEntryCode } from './entry-code.js'
import { KIT_ROOT, kitEntryFile, kitResolvePlugin } from './kit-resolve.js'
import { nitroGuardPlugin } from './nitro-guard.js'

export interface BundleSettings {
  rootDir: string
  outDir: string
  workerFiles: readonly string[]
  /**
   * `bundle`: everything in the output (runs with no node_modules).
   * `external`: dependencies, the kit included, stay imports (Nitro traces them).
   * `link`: dependencies stay imports and the kit is imported from `kitLink` (dev).
   */
  dependencies: 'bundle' | 'external' | 'link'
  /** With `link`: the absolute path of the pre-bundled kit. */
  kitLink?: string
  sourcemap: boolean
  minify: boolean
  runtimeConfig?: CzoConfigInput
}

function virtualEntriesPlugin(settings: BundleSettings): Plugin {
  return {
    name: 'czo:entries',
    setup(build) {
      build.onResolve({ filter: /^czo:(?:entry|index)$/ }, args => ({ path: args.path, namespace: 'czo' }))
      // index.mjs imports the sibling _entry.mjs at run time, so that _entry.mjs lists the workers itself.
      build.onResolve({ filter: /^\.\/_entry\.mjs$/, namespace: 'czo' }, () => ({ path: './_entry.mjs', external: true }))
      build.onLoad({ filter: /.*/, namespace: 'czo' }, args => ({
        contents: args.path === 'czo:entry'
          ? workersEntryCode(settings.workerFiles)
          : processEntryCode({ sourcemap: settings.sourcemap, runtimeConfig: settings.runtimeConfig }),
        resolveDir: settings.rootDir,
        loader: 'js',
      }))
    },
  }
}

/** CommonJS dependencies (ioredis) require Node built-ins; ESM output has no `require`. */
const REQUIRE_BANNER = { js: `import { createRequire as __czoCreateRequire } from 'node:module';\nconst require = __czoCreateRequire(import.meta.url);` }

/**
 * esbuild options for the dev-session kit bundle: the kit's runtime and runner with bullmq and
 * ioredis in one file, which dev builds link to instead of re-bundling them on every change.
 */
export function kitBundleOptions(outfile: string): BuildOptions {
  return {
    stdin: {
      contents: `export * from ${JSON.stringify(kitEntryFile('@czo/kit'))}\nexport * from ${JSON.stringify(kitEntryFile('@czo/kit/runner'))}\n`,
      resolveDir: KIT_ROOT,
      loader: 'js',
    },
    outfile,
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    banner: REQUIRE_BANNER,
    legalComments: 'none',
    logLevel: 'silent',
  }
}

/** esbuild options for the worker output: one implementation for build, dev and Nitro. */
export function workersBuildOptions(settings: BundleSettings): BuildOptions & { metafile: true, write: false } {
  return {
    absWorkingDir: settings.rootDir,
    entryPoints: { 'index': 'czo:index', '_entry': 'czo:entry' },
    outdir: settings.outDir,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    outExtension: { '.js': '.mjs' },
    entryNames: '[name]',
    // Hash only: esbuild does not escape quotes of [name] in its metafile.
    chunkNames: 'chunks/[hash]',
    sourcemap: settings.sourcemap ? 'linked' : false,
    minify: settings.minify,
    packages: settings.dependencies === 'bundle' ? 'bundle' : 'external',
    banner: REQUIRE_BANNER,
    legalComments: 'none',
    logLevel: 'silent',
    metafile: true,
    write: false,
    plugins: [
      virtualEntriesPlugin(settings),
      ...(settings.dependencies === 'external' ? [] : [kitResolvePlugin(settings.dependencies === 'link' ? settings.kitLink : undefined)]),
      nitroGuardPlugin(settings.rootDir),
    ],
  }
}

/** Worker files whose module has no default export, from esbuild's metafile. */
export function filesWithoutDefaultExport(metafile: Metafile, rootDir: string, workerFiles: readonly string[]): string[] {
  const exportsOf = new Map<string, string[]>()
  for (const output of Object.values(metafile.outputs)) {
    if (output.entryPoint) exportsOf.set(output.entryPoint, output.exports)
  }
  return workerFiles.filter((file) => {
    const exports = exportsOf.get(file) ?? exportsOf.get(relative(rootDir, file))
    return exports !== undefined && !exports.includes('default')
  })
}

/** Source files of the app (not dependencies) that the output was built from. */
export function appInputs(metafile: Metafile): string[] {
  return Object.keys(metafile.inputs).filter(input => !input.includes('node_modules/') && !input.startsWith('czo:'))
}
