import type { CzoConfigInput } from '../runtime/config.js'

/**
 * The two generated modules of the worker output. Paths are written with JSON.stringify, so
 * any file name discovery accepts (quotes, spaces, unicode) is a valid specifier.
 */

/** `_entry.mjs`: every discovered worker file, loaded lazily so a failing file can be named. */
export function workersEntryCode(workerFiles: readonly string[]): string {
  const items = workerFiles.map(file =>
    `  { file: ${JSON.stringify(file)}, load: () => import(${JSON.stringify(`./${file}`)}) },`)
  return `export const workers = [\n${items.join('\n')}\n]\n`
}

/** `index.mjs`: the worker process (flags, signals, deadline) around `_entry.mjs`. */
export function processEntryCode(options: { sourcemap: boolean, runtimeConfig?: CzoConfigInput }): string {
  const config = options.runtimeConfig ? `, runtimeConfig: ${JSON.stringify(options.runtimeConfig)}` : ''
  return [
    `import { runWorkerProcess } from '@czo/kit/runner'`,
    `import { workers } from './_entry.mjs'`,
    `runWorkerProcess({ entries: workers${options.sourcemap ? ', sourceMaps: true' : ''}${config} })`,
    '',
  ].filter((line, index, all) => line !== '' || index === all.length - 1).join('\n')
}
