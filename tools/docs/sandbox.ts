/**
 * Where a docs page runs: a temp app folder that has `@czo/kit` and `nitropack` installed as
 * links to this workspace (as `npm install @czo/kit nitropack` would give a user), and `czo`,
 * `nitro` and `nx` on PATH. Or, for the Nx page, a fixture copy of this workspace (the one the
 * @czo/nx e2e tests use: mazo, nx.json, @czo/nx installed as from npm).
 */
import { chmodSync, mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url))
export const KIT_DIR = join(REPO_ROOT, 'packages/kit')
export const NITROPACK_DIR = realpathSync(join(REPO_ROOT, 'apps/mazo/node_modules/nitropack'))
export const NX_BIN = join(REPO_ROOT, 'node_modules/nx/dist/bin/nx.js')
export const TSC_BIN = join(REPO_ROOT, 'node_modules/typescript/bin/tsc')

export interface Sandbox {
  /** Where the page's files go and its commands run. */
  dir: string
  /** Folder with the `czo`, `nitro` and `nx` shims, first on PATH. */
  binDir: string
  remove(): void
}

function shim(binDir: string, name: string, script: string): void {
  const path = join(binDir, name)
  writeFileSync(path, `#!/bin/sh\nexec "${process.execPath}" "${script}" "$@"\n`)
  chmodSync(path, 0o755)
}

function makeBin(root: string): string {
  const binDir = join(root, '.docs-bin')
  mkdirSync(binDir, { recursive: true })
  shim(binDir, 'czo', join(KIT_DIR, 'bin/czo.mjs'))
  shim(binDir, 'nitro', join(NITROPACK_DIR, 'dist/cli/index.mjs'))
  shim(binDir, 'nx', NX_BIN)
  // `node` itself: the same binary as the test runner's.
  writeFileSync(join(binDir, 'node'), `#!/bin/sh\nexec "${process.execPath}" "$@"\n`)
  chmodSync(join(binDir, 'node'), 0o755)
  return binDir
}

/** A fresh app folder with the packages a user would have installed. */
export function createAppSandbox(): Sandbox {
  const root = mkdtempSync(join(tmpdir(), 'czo-docs-'))
  const dir = join(root, 'app')
  mkdirSync(join(dir, 'node_modules/@czo'), { recursive: true })
  symlinkSync(KIT_DIR, join(dir, 'node_modules/@czo/kit'))
  symlinkSync(NITROPACK_DIR, join(dir, 'node_modules/nitropack'))
  writeFileSync(join(dir, 'package.json'), `${JSON.stringify({ name: 'docs-app', private: true, type: 'module' }, null, 2)}\n`)
  return { dir, binDir: makeBin(root), remove: () => rmSync(root, { recursive: true, force: true }) }
}

/** A fixture copy of this workspace for the Nx page. */
export async function createNxSandbox(): Promise<Sandbox> {
  const { createFixtureWorkspace } = await import('../../packages/nx/test/e2e-helpers.ts')
  const dir = createFixtureWorkspace()
  const binDir = makeBin(dir)
  writeFileSync(join(dir, '.gitignore'), 'node_modules/\n.output/\n.nitro/\n.czo/\n.nx/\n.data/\n.docs-bin/\n')
  return { dir, binDir, remove: () => rmSync(dir, { recursive: true, force: true }) }
}
