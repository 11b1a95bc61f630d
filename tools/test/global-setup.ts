import type { TestProject } from 'vitest/node'
import { startRedisServer, type RedisServer } from './redis-server.ts'

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string
    redisPort: number
  }
}

let server: RedisServer | undefined

/** One shared redis-server for the run; tests that stop Redis start their own. */
export async function setup(project: TestProject) {
  server = await startRedisServer()
  project.provide('redisUrl', server.url)
  project.provide('redisPort', server.port)
  return async () => {
    await server?.destroy()
  }
}
