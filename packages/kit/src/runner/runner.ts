import { useCzoConfig } from '../runtime/config.js'
import { closeConnections } from '../runtime/connection.js'
import type { WorkerDefinition } from '../runtime/define-worker.js'
import { closeQueues } from '../runtime/queue.js'
import { redactUrl } from '../runtime/redact.js'
import { closeWorker, requeueActiveJobs, trackWorker, type TrackedWorker } from '../runtime/worker.js'
import { consoleLogger, type RunnerLogger } from './logger.js'

export interface StartWorkersOptions {
  logger?: RunnerLogger
  /** After this long without a connection, say that we are still waiting for Redis. Default 5 s. */
  slowConnectMs?: number
}

let running: TrackedWorker[] = []

/**
 * Starts one BullMQ worker per definition (explicit registration works the same as discovery),
 * logs one line per worker, and resolves once every worker is connected, after a ready line.
 */
export async function startWorkers(definitions: readonly WorkerDefinition<any, any>[], options: StartWorkersOptions = {}): Promise<TrackedWorker[]> {
  const logger = options.logger ?? consoleLogger
  const url = redactUrl(useCzoConfig().redis.url)
  const started = definitions.map((definition) => {
    const entry = trackWorker(definition)
    logger.info(`worker "${definition.name}" on queue "${entry.worker.name}" (concurrency ${entry.worker.concurrency})`)
    return entry
  })
  running.push(...started)
  const slow = setTimeout(() => logger.warn(`still waiting for Redis at ${url}`), options.slowConnectMs ?? 5000)
  slow.unref()
  try {
    await Promise.all(started.map(entry => entry.worker.waitUntilReady()))
  }
  finally {
    clearTimeout(slow)
  }
  logger.info(`ready: ${started.length} worker${started.length === 1 ? '' : 's'} connected to ${url} (pid ${process.pid})`)
  return started
}

export interface ShutdownOptions {
  /** Upper bound of the graceful part (ms); past it the stop is forced. Default: config `workers.shutdownTimeout`. */
  timeout?: number
  logger?: RunnerLogger
  /** Part of `timeout` kept for handing active jobs back to the queue on a forced stop (ms). Default 2000, at most a fifth of `timeout`. */
  requeueTimeout?: number
}

export interface ShutdownResult {
  /** True when the deadline passed or {@link forceShutdown} was called before a clean close. */
  forced: boolean
  /** Jobs handed back to the wait list by a forced stop. */
  requeued: number
}

let shutdown: Promise<ShutdownResult> | undefined
let force: (() => void) | undefined

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => {
    setTimeout(resolve, ms).unref()
  })
}

/**
 * Stops the workers started by {@link startWorkers}: no new jobs are fetched, active jobs
 * finish, then workers, queues and connections close, in that order. Bounded by `timeout`:
 * past it (or on {@link forceShutdown}) active jobs go back to the queue at once so that
 * another worker takes them, and the promise resolves with `forced: true`.
 * Calling it again returns the same shutdown.
 */
export function shutdownWorkers(options: ShutdownOptions = {}): Promise<ShutdownResult> {
  if (shutdown) return shutdown
  const logger = options.logger ?? consoleLogger
  const timeout = options.timeout ?? useCzoConfig().workers.shutdownTimeout
  // The deadline bounds the whole shutdown, the hand-back included.
  const requeueBudget = Math.min(options.requeueTimeout ?? 2000, Math.floor(timeout / 5))
  const workers = running
  running = []
  const forced = new Promise<'forced'>((resolve) => {
    force = () => resolve('forced')
  })
  shutdown = (async () => {
    const active = workers.reduce((sum, entry) => sum + entry.active.size, 0)
    logger.info(`shutting down: ${active} active job${active === 1 ? '' : 's'} to finish, deadline ${timeout} ms`)
    const graceful = (async () => {
      await Promise.allSettled(workers.map(entry => closeWorker(entry.worker)))
      await closeQueues()
      await closeConnections()
      return 'done' as const
    })()
    const outcome = await Promise.race([graceful, forced, sleep(timeout - requeueBudget).then(() => 'deadline' as const)])
    if (outcome === 'done') {
      logger.info('stopped')
      return { forced: false, requeued: 0 }
    }
    const left = workers.reduce((sum, entry) => sum + entry.active.size, 0)
    logger.warn(`${outcome === 'deadline' ? `shutdown deadline of ${timeout} ms passed` : 'forced stop'}: handing ${left} active job${left === 1 ? '' : 's'} back to the queue`)
    const counts = await Promise.race([
      Promise.all(workers.map(entry => requeueActiveJobs(entry))),
      sleep(requeueBudget).then(() => [] as number[]),
    ])
    const requeued = counts.reduce((sum, n) => sum + n, 0)
    if (requeued < left) logger.warn(`${left - requeued} job${left - requeued === 1 ? '' : 's'} could not be handed back (Redis unreachable?); BullMQ's stall detection will recover them`)
    // What is still open is cut: the process is about to exit, or starts afresh.
    void closeQueues()
    void closeConnections(200)
    return { forced: true, requeued }
  })()
  return shutdown
}

/** Turns a shutdown in progress into a forced one (the second Ctrl+C). */
export function forceShutdown(): void {
  force?.()
}

/** Forgets a finished shutdown, so that a process (or test) can start workers again. */
export function resetRunner(): void {
  shutdown = undefined
  force = undefined
  running = []
}
