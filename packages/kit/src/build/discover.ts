import { existsSync, statSync } from 'node:fs'
import { basename, join, relative, resolve } from 'pathe'
import { glob } from 'tinyglobby'
import type { WorkersLayout } from './types.js'

export const DEFAULT_WORKERS_DIR = 'server/workers'
export const DEFAULT_OUTPUT_DIR = '.output'

/** Worker files are these extensions; `_name`, `*.test.*`, `*.spec.*` and `*.d.ts` are not worker files. */
const EXTENSIONS = /\.(?:ts|mts|js|mjs)$/
const IGNORED = /^_|\.(?:test|spec)\.[^.]+$|\.d\.m?ts$/

/** No worker folder, or nothing in it; the message says which folder. */
export class WorkerDiscoveryError extends Error {
  override name = 'WorkerDiscoveryError'
}

/** Resolved absolute folders of an app. */
export function resolveLayout(layout: WorkersLayout): { rootDir: string, workersDir: string, outputDir: string, workersOutDir: string } {
  const rootDir = resolve(layout.rootDir)
  const outputDir = resolve(rootDir, layout.outputDir ?? DEFAULT_OUTPUT_DIR)
  return {
    rootDir,
    workersDir: resolve(rootDir, layout.workersDir ?? DEFAULT_WORKERS_DIR),
    outputDir,
    workersOutDir: join(outputDir, 'server/workers'),
  }
}

export function isWorkerFileName(name: string): boolean {
  return EXTENSIONS.test(name) && !IGNORED.test(name)
}

/**
 * The worker files of an app (`server/workers/**`), relative to the app root, sorted by code
 * point so that generated code is the same on every machine.
 */
export async function findWorkerFiles(layout: WorkersLayout): Promise<string[]> {
  const { rootDir, workersDir } = resolveLayout(layout)
  const shown = relative(rootDir, workersDir) || '.'
  if (!existsSync(workersDir) || !statSync(workersDir).isDirectory()) {
    throw new WorkerDiscoveryError(`No workers folder at ${shown} (in ${rootDir}). Create it with one \`export default defineWorker(...)\` file per worker, or set the folder with --dir.`)
  }
  const files = await glob('**/*', { cwd: workersDir, onlyFiles: true, ignore: ['**/node_modules/**'] })
  const workers = files
    .filter(file => isWorkerFileName(basename(file)))
    .map(file => relative(rootDir, join(workersDir, file)))
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
  if (workers.length === 0) {
    throw new WorkerDiscoveryError(`No worker files in ${shown} (in ${rootDir}). Worker files are *.ts, *.mts, *.js or *.mjs with \`export default defineWorker(...)\`; names starting with "_" and *.test.* / *.spec.* are skipped.`)
  }
  return workers
}
