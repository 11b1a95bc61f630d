// Starts a local redis-server for development when nothing answers at the configured URL.
// Used by the README's main command and by the Nx `redis` target.
import { spawn } from 'node:child_process'
import { mkdirSync } from 'node:fs'
import { redisAnswers } from './resp.mjs'

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]'])

/** Redacts the password of a URL for printing. */
export function shownUrl(url) {
  return url.replace(/(\/\/[^:/@\s]*):([^@\s]*)@/, '$1:****@')
}

/**
 * @param {{ url: string, dataDir: string, log?: (line: string) => void }} options
 * @returns {Promise<{ started: boolean, child?: import('node:child_process').ChildProcess, stop(): Promise<void> }>}
 */
export async function ensureLocalRedis({ url, dataDir, log = console.log }) {
  if (await redisAnswers(url)) {
    log(`[redis] using the Redis that answers at ${shownUrl(url)}`)
    return { started: false, stop: async () => {} }
  }
  const parsed = new URL(url)
  if (!LOOPBACK.has(parsed.hostname)) {
    throw new Error(`Redis at ${shownUrl(url)} does not answer, and it is not local, so none is started for it. Check REDIS_URL / NITRO_CZO_REDIS_URL.`)
  }
  const port = Number(parsed.port || 6379)
  mkdirSync(dataDir, { recursive: true })
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dataDir, '--appendonly', 'yes', '--save', '', '--daemonize', 'no', '--logfile', 'redis.log']
  if (parsed.password) args.push('--requirepass', decodeURIComponent(parsed.password))
  // Its own process group: a terminal's Ctrl+C goes to the app processes, which need Redis
  // while they shut down; whoever started it stops it last.
  const child = spawn('redis-server', args, { stdio: ['ignore', 'inherit', 'inherit'], detached: true })
  const failed = new Promise((_, reject) => {
    child.once('error', error => reject(new Error(`could not start redis-server (${error.message}); run "npm run setup" to install it`)))
    child.once('exit', code => reject(new Error(`redis-server exited with code ${code} before it answered on port ${port}`)))
  })
  failed.catch(() => {})
  const deadline = Date.now() + 10_000
  while (!(await redisAnswers(url, 300))) {
    await Promise.race([new Promise(resolve => setTimeout(resolve, 100)), failed])
    if (Date.now() > deadline) {
      child.kill('SIGKILL')
      throw new Error(`redis-server did not answer on port ${port} within 10 s`)
    }
  }
  log(`[redis] started redis-server on port ${port} (pid ${child.pid}, data in ${dataDir})`)
  return {
    started: true,
    child,
    stop: () => new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve()
      child.once('exit', () => resolve())
      child.kill('SIGTERM')
    }),
  }
}
