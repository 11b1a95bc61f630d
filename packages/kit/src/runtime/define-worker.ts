import type { Processor, WorkerOptions } from 'bullmq'

/** BullMQ worker options; the kit provides the connection. */
export type CzoWorkerOptions = Omit<WorkerOptions, 'connection'>

export interface WorkerDefinition<Data = unknown, Result = unknown> {
  name: string
  processor: Processor<Data, Result>
  options?: CzoWorkerOptions
}

/** Throws when a worker (and so queue) name cannot be used. */
export function assertWorkerName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || name.trim() === '') {
    throw new TypeError(`Worker name must be a non-empty string, got ${JSON.stringify(name)}`)
  }
  if (name.includes(':')) {
    throw new TypeError(`Worker name "${name}" must not contain ":" (BullMQ uses it to separate key parts)`)
  }
}

/**
 * Declares a worker: the queue it consumes (`name`), its processor and BullMQ options.
 * Pure: opens no connection and has no side effect, so a file may be imported anywhere.
 */
export function defineWorker<Data = unknown, Result = unknown>(
  name: string,
  processor: Processor<Data, Result>,
  options?: CzoWorkerOptions,
): WorkerDefinition<Data, Result> {
  assertWorkerName(name)
  if (typeof processor !== 'function') {
    throw new TypeError(`Worker "${name}": processor must be a function`)
  }
  if (options && 'connection' in options) {
    throw new TypeError(`Worker "${name}": options.connection is not allowed; the kit provides the connection (configure it with NITRO_CZO_REDIS_URL or REDIS_URL)`)
  }
  return { name, processor, ...(options ? { options } : {}) }
}

/** True for a value shaped like a {@link defineWorker} result (also one written by hand). */
export function isWorkerDefinition(value: unknown): value is WorkerDefinition {
  if (typeof value !== 'object' || value === null) return false
  const { name, processor, options } = value as Record<string, unknown>
  return typeof name === 'string' && typeof processor === 'function'
    && (options === undefined || (typeof options === 'object' && options !== null))
}
