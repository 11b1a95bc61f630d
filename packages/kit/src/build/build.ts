import { mkdir, rm, writeFile } from 'node:fs/promises'
import { build as esbuild, type BuildFailure, type Message, type OutputFile } from 'esbuild'
import { dirname, join, relative, resolve } from 'pathe'
import { WorkerLoadError } from '../runner/load.js'
import { appInputs, filesWithoutDefaultExport, workersBuildOptions } from './bundle.js'
import { findWorkerFiles, resolveLayout } from './discover.js'
import type { BuildWorkersOptions, BuildWorkersResult } from './types.js'

/** The worker build failed; the message lists every error with its file and position. */
export class WorkersBuildError extends Error {
  override name = 'WorkersBuildError'
}

function formatMessage(message: Message): string {
  const where = message.location ? `${message.location.file}:${message.location.line}:${message.location.column + 1}: ` : ''
  return `${where}${message.text}`
}

export function isBuildFailure(error: unknown): error is BuildFailure {
  return error instanceof Error && Array.isArray((error as BuildFailure).errors)
}

/** Turns an esbuild failure into one readable error. */
export function toBuildError(error: unknown): Error {
  if (!isBuildFailure(error)) return error as Error
  return new WorkersBuildError(`Worker build failed:\n${error.errors.map(formatMessage).join('\n')}`)
}

/** Writes esbuild's in-memory output to a clean folder; returns the written paths, relative and sorted. */
export async function writeOutput(outDir: string, files: readonly OutputFile[]): Promise<string[]> {
  await rm(outDir, { recursive: true, force: true })
  await mkdir(outDir, { recursive: true })
  const written: string[] = []
  for (const file of files) {
    await mkdir(dirname(file.path), { recursive: true })
    await writeFile(file.path, file.contents)
    written.push(relative(outDir, file.path))
  }
  return written.sort()
}

/** Checks the build's module graph for worker files without a default export. */
export function checkDefaultExports(metafile: import('esbuild').Metafile, rootDir: string, workerFiles: readonly string[]): void {
  const missing = filesWithoutDefaultExport(metafile, rootDir, workerFiles)
  if (missing.length > 0) {
    throw new WorkerLoadError(missing, missing.map(file => `${file}: no default export. A worker file must \`export default defineWorker(name, processor)\`.`).join('\n'))
  }
}

/**
 * Builds an app's workers into `<outputDir>/server/workers`: `index.mjs` (the process),
 * `_entry.mjs` (the discovered workers) and chunks, bundled from TypeScript, runnable with
 * plain `node`. The same sources give byte-identical output.
 */
export async function buildWorkers(options: BuildWorkersOptions): Promise<BuildWorkersResult> {
  const layout = resolveLayout(options)
  const workerFiles = await findWorkerFiles(options)
  const settings = {
    rootDir: layout.rootDir,
    outDir: layout.workersOutDir,
    workerFiles,
    dependencies: (options.bundleDependencies ?? true) ? 'bundle' as const : 'external' as const,
    sourcemap: options.sourcemap ?? true,
    minify: options.minify ?? false,
    runtimeConfig: options.runtimeConfig,
  }
  let result
  try {
    result = await esbuild(workersBuildOptions(settings))
  }
  catch (error) {
    throw toBuildError(error)
  }
  checkDefaultExports(result.metafile, layout.rootDir, workerFiles)
  const files = await writeOutput(layout.workersOutDir, result.outputFiles)
  return {
    outDir: layout.workersOutDir,
    entry: join(layout.workersOutDir, 'index.mjs'),
    workerFiles,
    files,
    inputs: appInputs(result.metafile).map(input => resolve(layout.rootDir, input)).sort(),
  }
}
