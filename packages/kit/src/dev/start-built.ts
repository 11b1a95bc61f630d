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
    const command = options.rootDir === '.' ? 'czo workers:build' : `czo workers:build --cwd ${options.rootDir}`
    throw new MissingBuildError(`No worker build at ${relative(process.cwd(), entry) || entry}. Build it first with \`${command}\` (or \`nitro build\` with the czo module, or \`nx run <app>:workers-build\`).`)
  }
  const worker = spawnWorkerProcess({ entry, args: workerProcessArgs(options), env: options.env, cwd: layout.rootDir })
  return { ready: worker.ready, exited: worker.exited, stop: () => worker.stop(), force: () => worker.signal('SIGINT') }
}
