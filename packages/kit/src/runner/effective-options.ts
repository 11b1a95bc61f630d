import type { WorkerDefinition } from '../runtime/define-worker.js'

/** BullMQ's Worker defaults (bullmq 6), so that `czo workers:list` shows what will run. */
export const BULLMQ_WORKER_DEFAULTS = {
  concurrency: 1,
  lockDuration: 30_000,
  stalledInterval: 30_000,
  maxStalledCount: 1,
  drainDelay: 5,
  runRetryDelay: 15_000,
  maximumRateLimitDelay: 30_000,
  autorun: true,
} as const

/** A definition's options with BullMQ's defaults and the kit's prefix filled in. */
export function effectiveWorkerOptions(definition: WorkerDefinition<any, any>, prefix: string): Record<string, unknown> {
  const options: Record<string, unknown> = { prefix, ...BULLMQ_WORKER_DEFAULTS, ...definition.options }
  options.lockRenewTime ??= (options.lockDuration as number) / 2
  return Object.fromEntries(Object.entries(options).sort(([a], [b]) => a.localeCompare(b)))
}
