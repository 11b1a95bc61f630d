import { readFile } from 'node:fs/promises'
import { transform, type Plugin } from 'esbuild'
import { relative } from 'pathe'
import { KIT_ROOT } from './kit-resolve.js'

/** Modules that exist only inside a Nitro server. */
const NITRO_ONLY_MODULES = /^(?:#imports|#internal\/nitro(?:\/.*)?|#nitro(?:\/.*)?|nitropack(?:\/.*)?|nitro(?:\/.*)?)$/

/** Nitro auto-imports: globals inside Nitro, undefined anywhere else. */
const NITRO_ONLY_GLOBALS = [
  'useRuntimeConfig', 'useAppConfig', 'useNitroApp', 'useStorage', 'useEvent',
  'defineEventHandler', 'eventHandler', 'defineNitroPlugin', 'defineCachedEventHandler',
  'cachedEventHandler', 'defineCachedFunction', 'cachedFunction', 'defineRenderHandler',
  'defineTask', 'runTask', 'defineRouteMeta',
]
const GLOBAL_CALL = new RegExp(`(?<![\\w$.])(${NITRO_ONLY_GLOBALS.join('|')})\\s*(?:<[^>]*>)?\\s*\\(`)

/** A worker (or something it imports) uses an API that exists only inside Nitro. */
export class NitroOnlyApiError extends Error {
  override name = 'NitroOnlyApiError'
}

function alternative(api: string): string {
  if (api === 'useRuntimeConfig' || api === 'useAppConfig' || api === '#imports') return 'use useCzoConfig() from @czo/kit for configuration (it reads process.env in the worker process)'
  if (api === 'useStorage') return 'open the storage you need directly (e.g. unstorage with a driver)'
  return 'worker code runs without Nitro: keep HTTP handlers and Nitro plugins out of server/workers and the modules they import'
}

function declaresLocally(code: string, name: string): boolean {
  return new RegExp(`(?:function\\s+${name}\\b|(?:const|let|var)\\s+${name}\\b|import\\s*\\{[^}]*\\b${name}\\b[^}]*\\}\\s*from\\s*['"](?!#imports|nitropack|#internal)[^'"]+['"])`).test(code)
}

/** Dependencies and the kit itself are not the app's code: they are not checked. */
function isAppFile(path: string): boolean {
  return !path.includes('/node_modules/') && !path.startsWith(KIT_ROOT)
}

/**
 * esbuild plugin: fails the build when worker code reaches a Nitro-only API, naming the
 * worker file, the import chain and the kit alternative. Only the app's own files are read
 * (node_modules are skipped).
 */
export function nitroGuardPlugin(rootDir: string): Plugin {
  return {
    name: 'czo:nitro-guard',
    setup(build) {
      const importer = new Map<string, string>()
      const chainOf = (file: string): string => {
        const chain = [file]
        const seen = new Set(chain)
        let current = importer.get(file)
        while (current && !seen.has(current) && !current.startsWith('czo:')) {
          chain.unshift(current)
          seen.add(current)
          current = importer.get(current)
        }
        return chain.map(path => relative(rootDir, path)).join(' → ')
      }
      const fail = (file: string, api: string, how: string) => ({
        errors: [{
          text: `Nitro-only API in worker code: ${how}.\n  Import chain: ${chainOf(file)}\n  Worker files run in their own process without Nitro: ${alternative(api)}.`,
          pluginName: 'czo:nitro-guard',
        }],
      })

      build.onResolve({ filter: /.*/ }, async (args) => {
        if (args.pluginData?.czoGuard || args.kind === 'entry-point') return undefined
        if (args.namespace !== 'file' || !isAppFile(args.importer)) return undefined
        if (NITRO_ONLY_MODULES.test(args.path)) return fail(args.importer, args.path, `${relative(rootDir, args.importer)} imports "${args.path}"`)
        const result = await build.resolve(args.path, {
          kind: args.kind,
          importer: args.importer,
          resolveDir: args.resolveDir,
          pluginData: { czoGuard: true },
        })
        if (result.errors.length > 0) return { errors: result.errors }
        if (!importer.has(result.path)) importer.set(result.path, args.importer)
        return { path: result.path, external: result.external, namespace: result.namespace, sideEffects: result.sideEffects, suffix: result.suffix, pluginData: result.pluginData }
      })

      build.onLoad({ filter: /\.[cm]?[jt]sx?$/ }, async (args) => {
        if (!isAppFile(args.path)) return undefined
        const source = await readFile(args.path, 'utf8')
        const loader = /\.[cm]?tsx?$/.test(args.path) ? (args.path.endsWith('x') ? 'tsx' : 'ts') : (args.path.endsWith('x') ? 'jsx' : 'js')
        // Comments removed (by a real parser) so that prose mentioning an API does not count.
        let code: string
        try {
          ({ code } = await transform(source, { loader, format: 'esm', legalComments: 'none', sourcefile: args.path }))
        }
        catch {
          // A syntax error: esbuild's own load reports it against the file itself.
          return undefined
        }
        for (const [, specifier] of code.matchAll(/\bfrom\s*['"]([^'"]+)['"]/g)) {
          if (NITRO_ONLY_MODULES.test(specifier!)) return fail(args.path, specifier!, `${relative(rootDir, args.path)} imports "${specifier}"`)
        }
        const call = GLOBAL_CALL.exec(code)
        if (call && !declaresLocally(code, call[1]!)) {
          return fail(args.path, call[1]!, `${relative(rootDir, args.path)} calls ${call[1]}(), a Nitro auto-import`)
        }
        return undefined
      })
    },
  }
}
