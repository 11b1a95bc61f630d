import { closeConnections } from './connection.js'
import { closeQueues } from './queue.js'
import { closeWorkers } from './worker.js'

/** Closes workers (letting active jobs finish), then queues, then every Redis connection. */
export async function closeAll(): Promise<void> {
  await closeWorkers()
  await closeQueues()
  await closeConnections()
}
