import { CzoConfigError, setBuiltRuntimeConfig, useCzoConfig, type CzoConfigInput } from '../runtime/config.js'
import type { WorkerDefinition } from '../runtime/define-worker.js'
import { setQueueConnectionRole } from '../runtime/queue.js'
import { parseWorkerProcessArgs, UsageError, WORKER_PROCESS_HELP } from './args.js'
import { ExitCode } from './exit-codes.js'
import { loadWorkerDefinitions, WorkerLoadError, type WorkerEntry } from './load.js'
import { consoleLogger, type RunnerLogger } from './logger.js'
import { forceShutdown, shutdownWorkers, startWorkers, type ShutdownResult } from './runner.js'
import { selectWorkers, WorkerSelectionError } from './select.js'

export interface RunWorkerProcessOptions {
  /** Discovered worker files (what the generated `_entry.mjs` exports). */
  entries?: readonly WorkerEntry[]
  /** Or definitions registered by hand. */
  definitions?: readonly WorkerDefinition<any, any>[]
  argv?: readonly string[]
  env?: Record<string, string | undefined>
  logger?: RunnerLogger
  /** Ends the process; replaceable for tests. */
  exit?: (code: number) => void
  /**
   * Map stack traces to the sources while the worker files load, so that an import-time error
   * points at the TypeScript line. Turned off again afterwards: mapped stacks slow down every
   * error BullMQ and ioredis create (about 5% fewer no-op jobs/s). `--enable-source-maps` in
   * NODE_OPTIONS keeps them on for job errors too.
   */
  sourceMaps?: boolean
  /** `runtimeConfig.czo` of a Nitro build: defaults under the env, as in the server. */
  runtimeConfig?: CzoConfigInput
  /** Where signals and uncaught errors are listened for. Default `process`; replaceable for tests. */
  events?: Pick<NodeJS.EventEmitter, 'on' | 'once'>
}

/** A signal this soon after the previous one is the same request to stop, not a second one. */
export const SIGNAL_REPEAT_MS = 1000

/** Runs `work` with source-mapped stack traces, restoring the previous setting afterwards. */
async function withSourceMaps<T>(enable: boolean, work: () => Promise<T>): Promise<T> {
  const always = process.execArgv.includes('--enable-source-maps') || (process.env.NODE_OPTIONS ?? '').includes('--enable-source-maps')
  if (!enable || always) return work()
  process.setSourceMapsEnabled(true)
  try {
    return await work()
  }
  finally {
    process.setSourceMapsEnabled(false)
  }
}

/** The message and exit code for an error raised before the workers run. */
export function describeStartupError(error: unknown): { code: number, message: string } {
  if (error instanceof UsageError || error instanceof WorkerSelectionError) return { code: ExitCode.usage, message: error.message }
  if (error instanceof CzoConfigError || error instanceof WorkerLoadError) return { code: ExitCode.failure, message: error.message }
  return { code: ExitCode.failure, message: error instanceof Error ? (error.stack ?? error.message) : String(error) }
}

/**
 * The worker process: parses flags, loads and selects the workers, starts them, and stops
 * them gracefully on SIGINT/SIGTERM within the deadline (a second signal forces). Ends the
 * process with an {@link ExitCode}. Resolves with that code once the process is done.
 */
export async function runWorkerProcess(options: RunWorkerProcessOptions): Promise<number> {
  const logger = options.logger ?? consoleLogger
  const env = options.env ?? process.env
  const exit = options.exit ?? ((code: number) => process.exit(code))
  let shutdownTimeout: number
  let definitions: WorkerDefinition<any, any>[]
  try {
    const args = parseWorkerProcessArgs(options.argv ?? process.argv.slice(2), env)
    if (args.help) {
      console.log(WORKER_PROCESS_HELP)
      exit(ExitCode.ok)
      return ExitCode.ok
    }
    if (options.runtimeConfig) setBuiltRuntimeConfig(options.runtimeConfig)
    const config = useCzoConfig()
    // Jobs that enqueue follow-ups wait for Redis like the workers, rather than failing fast.
    setQueueConnectionRole('worker')
    shutdownTimeout = args.shutdownTimeout ?? config.workers.shutdownTimeout
    const all = options.definitions ? [...options.definitions] : await withSourceMaps(options.sourceMaps === true, () => loadWorkerDefinitions(options.entries ?? []))
    if (all.length === 0) throw new WorkerSelectionError(args.workersSource, 'no workers found: add `export default defineWorker(...)` files to server/workers')
    definitions = selectWorkers(all, args.workers, args.workersSource)
  }
  catch (error) {
    const { code, message } = describeStartupError(error)
    logger.error(message)
    exit(code)
    return code
  }

  let finish!: (code: number) => void
  const done = new Promise<number>((resolve) => {
    finish = resolve
  })
  let stopping: Promise<ShutdownResult> | undefined
  let lastSignalAt: number | undefined
  const stop = (reason: string, failure: boolean, signal?: NodeJS.Signals): void => {
    const previous = lastSignalAt
    if (signal) lastSignalAt = Date.now()
    // One request to stop often arrives as several signals at once: a terminal's Ctrl+C reaches
    // the whole process group and a parent (Nx, a process manager) forwards its own. Signals this
    // close together are one request; a later one forces.
    if (stopping && signal && previous !== undefined && Date.now() - previous < SIGNAL_REPEAT_MS) return
    if (stopping) {
      logger.warn(`${reason} during shutdown: forcing`)
      forceShutdown()
      return
    }
    logger.info(`${reason}: stopping`)
    stopping = shutdownWorkers({ timeout: shutdownTimeout, logger })
    void stopping.then(({ forced }) => {
      const code = failure ? ExitCode.failure : forced ? ExitCode.forced : ExitCode.ok
      exit(code)
      finish(code)
    })
  }
  const events = options.events ?? process
  const onSignal = (signal: NodeJS.Signals) => stop(`received ${signal}`, false, signal)
  events.on('SIGINT', onSignal)
  events.on('SIGTERM', onSignal)
  // Started by `czo workers:dev` or the Nx executor: if that parent dies, stop too.
  if (process.connected) events.once('disconnect', () => stop('parent process went away', false))
  events.on('uncaughtException', (error: Error) => {
    logger.error('uncaught exception:', error)
    stop('uncaught exception', true)
  })
  events.on('unhandledRejection', (reason: unknown) => {
    logger.error('unhandled rejection:', reason)
    stop('unhandled rejection', true)
  })

  startWorkers(definitions, { logger }).then(
    () => process.send?.({ type: 'czo:ready', workers: definitions.map(definition => definition.name) }),
    (error: unknown) => {
      logger.error('could not start the workers:', error)
      stop('start failed', true)
    },
  )
  return done
}
