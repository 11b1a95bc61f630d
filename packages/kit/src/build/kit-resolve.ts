import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { Plugin } from 'esbuild'

/** The folder of this copy of the kit (`packages/kit` or `node_modules/@czo/kit`). */
export const KIT_ROOT = fileURLToPath(new URL('../..', import.meta.url))

/** The files of this copy of the kit, by subpath. */
const KIT_ENTRIES: Record<string, string> = {
  '@czo/kit': '../runtime/index.js',
  '@czo/kit/runner': '../runner/index.js',
}

/**
 * Resolves `@czo/kit` and `@czo/kit/runner` to the kit doing the build, so that the worker
 * files and the runner share one copy (one connection registry) even where the app has no
 * node_modules of its own. With `link` (a file that bundles the kit with its dependencies,
 * made once per dev session), they stay imports of that file: a change re-bundles only app code.
 */
export function kitResolvePlugin(link?: string): Plugin {
  return {
    name: 'czo:kit',
    setup(build) {
      build.onResolve({ filter: /^@czo\/kit(?:\/runner)?$/ }, args => (link
        ? { path: link, external: true }
        : { path: kitEntryFile(args.path) }))
    },
  }
}

/** The kit's file for a specifier: compiled `.js`, or `.ts` when the kit runs from source (tests). */
export function kitEntryFile(specifier: string): string {
  const file = fileURLToPath(new URL(KIT_ENTRIES[specifier]!, import.meta.url))
  return existsSync(file) ? file : file.replace(/\.js$/, '.ts')
}
