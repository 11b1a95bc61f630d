import { existsSync } from 'node:fs'
import { join, relative } from 'pathe'
import { resolveLayout } from '../build/discover.js'
import { spawnWorkerProcess } from './worker-process.js'
import { workerProcessArgs, type WorkerProcessHandle, type WorkerProcessOptions } from './types.js'

/** The build output is missing; the message says which command builds it. */
export class MissingBuildError extends Error {
  override name = 'MissingBuildError'
}

/** Runs the production worker process, `<outputDir>/server/workers/index.mjs`. */
export function startBuiltWorkers(options: WorkerProcessOptions): WorkerProcessHandle {
  const layout = resolveLayout(options)
  const entry = join(layout.workersOutDir, 'index.mjs')
  if (!existsSync(entry)) {
    const flags = [
      options.rootDir === '.' ? '' : ` --cwd ${options.rootDir}`,
      options.outputDir === undefined || options.outputDir === '.output' ? '' : ` --output ${options.outputDir}`,
    ]
    const command = `czo workers:build${flags.join('')}`
    throw new MissingBuildError(`No worker build at ${relative(process.cwd(), entry) || entry}. Build it first with \`${command}\` (or \`nitro build\` with the czo module, or \`nx run <app>:workers-build\`).`)
  }
  const worker = spawnWorkerProcess({ entry, args: workerProcessArgs(options), env: options.env, cwd: layout.rootDir })
  return { ready: worker.ready, exited: worker.exited, stop: () => worker.stop(), force: () => worker.signal('SIGINT') }
}
