// Minimal Redis protocol helpers for tools and tests: no client library, no connection pool.
import { createConnection, createServer } from 'node:net'

/** A free TCP port on the loopback interface. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.unref()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0))
    })
  })
}

function encode(args) {
  return `*${args.length}\r\n${args.map(arg => `$${Buffer.byteLength(arg)}\r\n${arg}\r\n`).join('')}`
}

function isComplete(reply) {
  if (!reply.endsWith('\r\n')) return false
  if (reply[0] !== '$') return true
  const header = reply.indexOf('\r\n')
  const length = Number(reply.slice(1, header))
  return length < 0 || Buffer.byteLength(reply) >= header + 2 + length + 2
}

/**
 * Sends one command over a fresh socket and resolves with the raw reply.
 * @param {{ host?: string, port: number, password?: string, username?: string }} target
 * @param {string[]} args
 */
export function rawCommand(target, args, timeoutMs = 2000) {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host: target.host ?? '127.0.0.1', port: target.port })
    let data = ''
    let authPending = Boolean(target.password)
    const timer = setTimeout(() => {
      socket.destroy()
      reject(new Error(`Redis at ${target.host ?? '127.0.0.1'}:${target.port} did not answer ${args[0]}`))
    }, timeoutMs)
    socket.on('error', (error) => {
      clearTimeout(timer)
      reject(error)
    })
    socket.on('connect', () => {
      if (target.password) {
        socket.write(encode(target.username ? ['AUTH', target.username, target.password] : ['AUTH', target.password]))
      }
      socket.write(encode(args))
    })
    socket.on('data', (chunk) => {
      data += chunk.toString()
      if (authPending && data.includes('\r\n')) {
        authPending = false
        data = data.slice(data.indexOf('\r\n') + 2)
      }
      if (!authPending && isComplete(data)) {
        clearTimeout(timer)
        socket.end()
        resolve(data)
      }
    })
  })
}

/** True when something answers PING at the Redis URL. */
export async function redisAnswers(url, timeoutMs = 1000) {
  const parsed = new URL(url)
  try {
    const reply = await rawCommand({
      host: parsed.hostname,
      port: Number(parsed.port || 6379),
      username: parsed.username ? decodeURIComponent(parsed.username) : undefined,
      password: parsed.password ? decodeURIComponent(parsed.password) : undefined,
    }, ['PING'], timeoutMs)
    return reply.startsWith('+PONG')
  }
  catch {
    return false
  }
}
