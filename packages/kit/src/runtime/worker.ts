import { Worker, type Job, type Processor } from 'bullmq'
import { useCzoConfig } from './config.js'
import { useRedisConnection } from './connection.js'
import { defineWorker, type CzoWorkerOptions, type WorkerDefinition } from './define-worker.js'
import { useEvents } from './events.js'
import { redactUrl } from './redact.js'

/** A worker started by the kit, with the jobs it is processing right now. */
export interface TrackedWorker {
  readonly definition: WorkerDefinition<any, any>
  readonly worker: Worker
  /** Jobs whose processor is running, with the lock token needed to hand them back. */
  readonly active: ReadonlyMap<string, { job: Job, token: string | undefined }>
}

const tracked = new Map<Worker, TrackedWorker>()

/** Creates a BullMQ worker for a definition and tracks it with its active jobs. */
export function trackWorker(definition: WorkerDefinition<any, any>): TrackedWorker {
  const config = useCzoConfig()
  const active = new Map<string, { job: Job, token: string | undefined }>()
  const run = definition.processor
  const started = (job: Job, token: string | undefined) => {
    const key = job.id ?? ''
    active.set(key, { job, token })
    return key
  }
  // The same arity as the app's processor: BullMQ creates an AbortController for every job
  // when the processor declares the third (signal) parameter.
  const processor: Processor = run.length >= 3
    ? async (job, token, signal) => {
      const key = started(job, token)
      try {
        return await run(job, token, signal)
      }
      finally {
        active.delete(key)
      }
    }
    : async (job, token) => {
      const key = started(job, token)
      try {
        return await run(job, token)
      }
      finally {
        active.delete(key)
      }
    }
  const worker = new Worker(definition.name, processor, {
    prefix: config.redis.prefix,
    ...definition.options,
    connection: useRedisConnection('worker'),
  })
  const events = useEvents()
  const name = definition.name
  const queue = definition.name
  let lastError = ''
  worker.on('error', (error) => {
    // One line per distinct error: a Redis outage would otherwise print one per retry.
    const message = redactUrl(error.message)
    if (message === lastError) return
    lastError = message
    console.error(`[czo] worker "${name}": ${message}`)
  })
  worker.on('ready', () => {
    lastError = ''
    void events.emit('worker:ready', { worker: name, queue, concurrency: worker.concurrency })
  })
  worker.on('completed', (job, result) => {
    void events.emit('job:completed', { worker: name, queue, jobId: job.id ?? '', result })
  })
  worker.on('failed', (job, error) => {
    void events.emit('job:failed', { worker: name, queue, jobId: job?.id, error })
  })
  worker.on('closed', () => {
    void events.emit('worker:closed', { worker: name, queue })
  })
  const entry: TrackedWorker = { definition, worker, active }
  tracked.set(worker, entry)
  return entry
}

/** Creates and tracks a BullMQ worker from a definition or from its parts. */
export function useWorker<Data = unknown, Result = unknown>(definition: WorkerDefinition<Data, Result>): Worker<Data, Result>
export function useWorker<Data = unknown, Result = unknown>(name: string, processor: Processor<Data, Result>, options?: CzoWorkerOptions): Worker<Data, Result>
export function useWorker(nameOrDefinition: string | WorkerDefinition<any, any>, processor?: Processor, options?: CzoWorkerOptions): Worker {
  const definition = typeof nameOrDefinition === 'string'
    ? defineWorker(nameOrDefinition, processor as Processor, options)
    : nameOrDefinition
  return trackWorker(definition).worker
}

/** The workers this process has started, for the runner's shutdown. */
export function getTrackedWorkers(): TrackedWorker[] {
  return [...tracked.values()]
}

/**
 * Hands the jobs a worker is still processing back to the wait list, so that another worker
 * takes them at once instead of after BullMQ's stall detection. Used by a forced stop.
 */
export async function requeueActiveJobs(entry: TrackedWorker): Promise<number> {
  const jobs = [...entry.active.values()]
  const results = await Promise.allSettled(jobs.map(({ job, token }) => job.moveToWait(token)))
  return results.filter(result => result.status === 'fulfilled').length
}

/** Closes one tracked worker (waiting for its active jobs unless `force`) and forgets it. */
export async function closeWorker(worker: Worker, force = false): Promise<void> {
  tracked.delete(worker)
  await worker.close(force)
}

/** Closes every worker started with {@link useWorker}, letting active jobs finish. */
export async function closeWorkers(force = false): Promise<void> {
  await Promise.allSettled([...tracked.keys()].map(worker => closeWorker(worker, force)))
}
