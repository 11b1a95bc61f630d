import { build, context, type BuildContext, type BuildResult } from 'esbuild'
import { watch, type FSWatcher } from 'chokidar'
import { join, relative, resolve } from 'pathe'
import { appInputs, kitBundleOptions, workersBuildOptions, type BundleSettings } from '../build/bundle.js'
import { checkDefaultExports, toBuildError, writeOutput } from '../build/build.js'
import { findWorkerFiles, resolveLayout } from '../build/discover.js'
import { consoleLogger, type RunnerLogger } from '../runner/logger.js'
import { spawnWorkerProcess, type WorkerProcess } from './worker-process.js'
import { workerProcessArgs, type WorkerProcessHandle, type WorkerProcessOptions } from './types.js'

export interface DevWorkersOptions extends WorkerProcessOptions {
  /** Quiet period after a change before rebuilding (ms). Default 100. */
  debounceMs?: number
  /** How long the old worker process may take to stop gracefully on a reload (ms). Default 5000. */
  reloadTimeout?: number
  /** Where dev builds go. Default `<rootDir>/.czo/dev`. */
  devDir?: string
  logger?: RunnerLogger
}

/**
 * `czo workers:dev`: builds the app's workers from source into a dev folder, runs them in a
 * child process and, when a worker file or anything it imports changes, rebuilds, stops the
 * old child gracefully (bounded) and only then starts the new one.
 */
export async function startDevWorkers(options: DevWorkersOptions): Promise<WorkerProcessHandle> {
  const logger = options.logger ?? consoleLogger
  const layout = resolveLayout(options)
  const devDir = resolve(layout.rootDir, options.devDir ?? '.czo/dev')
  const outDir = join(devDir, 'workers')
  const kitLink = join(devDir, 'kit/kit.mjs')
  await build(kitBundleOptions(kitLink))
  const settings: BundleSettings = {
    rootDir: layout.rootDir,
    outDir,
    workerFiles: await findWorkerFiles(options),
    dependencies: 'link',
    kitLink,
    sourcemap: true,
    minify: false,
  }
  const ctx: BuildContext<ReturnType<typeof workersBuildOptions>> = await context(workersBuildOptions(settings))
  const entry = join(outDir, 'index.mjs')
  const args = workerProcessArgs(options)
  const reloadTimeout = options.reloadTimeout ?? 5000

  let current: WorkerProcess | undefined
  let watched = new Set<string>()
  let stopped = false
  let finish!: (code: number) => void
  const exited = new Promise<number>((resolve) => {
    finish = resolve
  })

  const watcher: FSWatcher = watch(layout.workersDir, { ignoreInitial: true })

  /** Builds; returns false (and reports) when the sources do not build. */
  const rebuild = async (): Promise<boolean> => {
    let result: BuildResult<ReturnType<typeof workersBuildOptions>>
    try {
      settings.workerFiles = await findWorkerFiles(options)
      result = await ctx.rebuild()
      checkDefaultExports(result.metafile, layout.rootDir, settings.workerFiles)
    }
    catch (error) {
      logger.error(`${toBuildError(error).message}\n[czo] fix it and save: the workers restart on the next change`)
      return false
    }
    await writeOutput(outDir, result.outputFiles)
    const inputs = new Set(appInputs(result.metafile).map(input => resolve(layout.rootDir, input)))
    watcher.add([...inputs].filter(file => !watched.has(file)))
    const gone = [...watched].filter(file => !inputs.has(file))
    if (gone.length > 0) watcher.unwatch(gone)
    watched = inputs
    return true
  }

  const launch = (): WorkerProcess => {
    const child = spawnWorkerProcess({ entry, args, env: options.env, cwd: layout.rootDir })
    current = child
    void child.exited.then((code) => {
      if (current === child && !stopped) {
        current = undefined
        // Code 0: stopped by a signal from outside (a process manager signalling the whole tree).
        logger.error(`workers exited with code ${code}${code === 0 ? ' (stopped from outside)' : ''}; they restart on the next change`)
      }
    })
    return child
  }

  let queue: Promise<void> = Promise.resolve()
  let timer: NodeJS.Timeout | undefined
  const reload = (changed: string) => {
    clearTimeout(timer)
    timer = setTimeout(() => {
      queue = queue.then(async () => {
        if (stopped) return
        const started = Date.now()
        if (!(await rebuild()) || stopped) return
        const built = Date.now()
        const old = current
        current = undefined
        if (old) await old.stop(reloadTimeout)
        if (stopped) return
        const oldStopped = Date.now()
        const next = launch()
        try {
          await next.ready
          const now = Date.now()
          logger.info(`reloaded after a change to ${relative(layout.rootDir, changed)} in ${now - started} ms (build ${built - started} ms, stop ${oldStopped - built} ms, start ${now - oldStopped} ms)`)
        }
        catch {}
      })
    }, options.debounceMs ?? 100)
  }
  watcher.on('all', (_event, path) => reload(String(path)))

  if (!(await rebuild())) {
    await ctx.dispose()
    await watcher.close()
    throw new Error('the workers do not build; see the errors above')
  }
  const first = launch()
  const ready = first.ready

  const stop = async (): Promise<number> => {
    if (!stopped) {
      stopped = true
      clearTimeout(timer)
      await watcher.close()
      await queue
      const code = current ? await current.stop() : 0
      await ctx.dispose()
      finish(code)
    }
    return exited
  }
  return { ready, exited, stop, force: () => current?.signal('SIGINT') }
}
