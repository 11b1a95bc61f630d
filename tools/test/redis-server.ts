/**
 * A real `redis-server` for tests and local runs: free loopback port, its own temp dir,
 * append-only persistence (so a restart keeps the jobs), stopped by pid.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort, rawCommand } from '../redis/resp.mjs'
import { spawnTracked, type Spawned } from './processes.ts'

export { freePort }

export interface RedisServer {
  readonly port: number
  readonly url: string
  readonly dir: string
  /** Stops the server (data kept on disk); `start()` brings it back on the same port. */
  stop(): Promise<void>
  start(): Promise<void>
  /** Stops the server and removes its directory. */
  destroy(): Promise<void>
  /** Sends one command over a raw connection and returns the reply text. */
  command(...args: string[]): Promise<string>
}

export async function startRedisServer(options: { port?: number } = {}): Promise<RedisServer> {
  const port = options.port ?? await freePort()
  const dir = mkdtempSync(join(tmpdir(), 'czo-redis-'))
  let proc: Spawned | undefined

  const start = async () => {
    proc = spawnTracked('redis-server', [
      '--port', String(port),
      '--bind', '127.0.0.1',
      '--dir', dir,
      '--save', '',
      '--appendonly', 'yes',
      '--appendfsync', 'everysec',
      '--daemonize', 'no',
      '--protected-mode', 'yes',
      '--loglevel', 'warning',
    ])
    const deadline = Date.now() + 10_000
    for (;;) {
      try {
        if ((await rawCommand({ port }, ['PING'], 500)).startsWith('+PONG')) return
      }
      catch {}
      if (Date.now() > deadline) throw new Error(`redis-server did not start on port ${port}:\n${proc.output()}`)
      await new Promise(resolve => setTimeout(resolve, 50))
    }
  }
  const stop = async () => {
    if (!proc) return
    const current = proc
    proc = undefined
    await current.stop(5000)
  }
  await start()
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    dir,
    start,
    stop,
    async destroy() {
      await stop()
      rmSync(dir, { recursive: true, force: true })
    },
    command: (...args) => rawCommand({ port }, args),
  }
}
