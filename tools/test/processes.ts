/**
 * Every child process a test starts goes through here, so that it is stopped when the test
 * ends, when it fails, and when the test run itself is interrupted. Nothing is killed by name:
 * only the pids and process groups started here.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process'

const owned = new Set<ChildProcess>()

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return
  try {
    process.kill(-child.pid, signal)
  }
  catch {
    try {
      child.kill(signal)
    }
    catch {}
  }
}

let hooked = false
function hookExit(): void {
  if (hooked) return
  hooked = true
  process.on('exit', () => {
    for (const child of owned) killGroup(child, 'SIGKILL')
  })
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      for (const child of owned) killGroup(child, 'SIGKILL')
      process.exit(128 + (signal === 'SIGINT' ? 2 : signal === 'SIGTERM' ? 15 : 1))
    })
  }
}

export interface Spawned {
  child: ChildProcess
  /** Everything written to stdout and stderr so far. */
  output(): string
  /** Resolves when `pattern` appears in the output; rejects on exit or after `timeoutMs`. */
  waitFor(pattern: RegExp | string, timeoutMs?: number): Promise<string>
  /** Resolves with the exit code (or 128 + signal number) once the process has exited. */
  exited(): Promise<number>
  /** Sends `signal` to the whole process group. */
  signal(signal: NodeJS.Signals): void
  /** Stops the process group: SIGTERM, then SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<number>
}

const SIGNAL_NUMBERS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 }
/** How long to wait, after a process exits, for the rest of its output. */
const DRAIN_MS = 2000

/** Starts a process in its own process group and tracks it until it exits. */
export function spawnTracked(command: string, args: string[], options: SpawnOptions = {}): Spawned {
  hookExit()
  const child = spawn(command, args, { ...options, detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
  owned.add(child)
  let output = ''
  const listeners = new Set<() => void>()
  const onData = (chunk: Buffer) => {
    output += chunk.toString()
    for (const listener of listeners) listener()
  }
  child.stdout?.on('data', onData)
  child.stderr?.on('data', onData)
  // 'exit' can come before the last of the output has been read: wait for both pipes to close,
  // but not for long, since a process left in the group may hold them open.
  const drained = Promise.all([child.stdout, child.stderr].map(stream => new Promise<void>((resolve) => {
    if (!stream || stream.closed) resolve()
    else stream.once('close', () => resolve())
  })))
  let ended = false
  const exit = new Promise<number>((resolve) => {
    child.once('exit', (code, signal) => {
      owned.delete(child)
      void Promise.race([drained, new Promise(resolve => setTimeout(resolve, DRAIN_MS).unref())]).then(() => {
        ended = true
        for (const listener of listeners) listener()
        resolve(code ?? 128 + (SIGNAL_NUMBERS[signal ?? ''] ?? 0))
      })
    })
  })
  const spawned: Spawned = {
    child,
    output: () => output,
    waitFor(pattern, timeoutMs = 20_000) {
      const test = (text: string) => typeof pattern === 'string' ? text.includes(pattern) : pattern.test(text)
      return new Promise((resolve, reject) => {
        const check = () => {
          if (test(output)) {
            done()
            resolve(output)
          }
          else if (ended) {
            done()
            reject(new Error(`process exited (${child.exitCode ?? child.signalCode}) before printing ${pattern}:\n${output}`))
          }
        }
        const timer = setTimeout(() => {
          done()
          reject(new Error(`timed out after ${timeoutMs} ms waiting for ${pattern}:\n${output}`))
        }, timeoutMs)
        const done = () => {
          clearTimeout(timer)
          listeners.delete(check)
        }
        listeners.add(check)
        check()
      })
    },
    exited: () => exit,
    signal: signal => killGroup(child, signal),
    async stop(graceMs = 10_000) {
      killGroup(child, 'SIGTERM')
      const timer = setTimeout(() => killGroup(child, 'SIGKILL'), graceMs)
      const code = await exit
      clearTimeout(timer)
      // Whatever the leader left behind in its group goes too.
      if (child.pid !== undefined) {
        try {
          process.kill(-child.pid, 'SIGKILL')
        }
        catch {}
      }
      return code
    },
  }
  return spawned
}

/** Stops every process started by this module that is still running. */
export async function stopAllTracked(): Promise<void> {
  await Promise.all([...owned].map(child => new Promise<void>((resolve) => {
    child.once('exit', () => resolve())
    killGroup(child, 'SIGKILL')
  })))
}

/** Is a process (by pid) still alive? */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  }
  catch {
    return false
  }
}
