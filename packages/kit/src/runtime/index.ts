export { closeAll } from './close.js'
export {
  czoConfigDefaults,
  czoRuntimeConfigSeed,
  CzoConfigError,
  DEFAULT_REDIS_URL,
  normalizeCzoConfig,
  resolveCzoConfig,
  setBuiltRuntimeConfig,
  setRuntimeConfigReader,
  useCzoConfig,
  validateRedisUrl,
} from './config.js'
export type { CzoConfig, CzoConfigInput } from './config.js'
export {
  closeConnections,
  connectionOptions,
  createRedisConnection,
  getConnectionCount,
  redisOptionsFromUrl,
  useRedisConnection,
} from './connection.js'
export type { ConnectionRole } from './connection.js'
export { assertWorkerName, defineWorker, isWorkerDefinition } from './define-worker.js'
export type { CzoWorkerOptions, WorkerDefinition } from './define-worker.js'
export { createEventBus, useEvents } from './events.js'
export type { CzoEvents, EventBus, EventMap, Listener } from './events.js'
export { closeQueues, CzoQueue, QueueUnavailableError, setQueueConnectionRole, useQueue } from './queue.js'
export { redactUrl } from './redact.js'
export { closeWorker, closeWorkers, getTrackedWorkers, requeueActiveJobs, trackWorker, useWorker } from './worker.js'
export type { TrackedWorker } from './worker.js'
