import { EventEmitter } from 'node:events'
import { runCommand } from 'citty'
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest'
import { assertKnownFlags, runOptions, stringFlag } from '../src/cli/args.ts'
import { cliError, guard } from '../src/cli/errors.ts'
import { main } from '../src/cli/index.ts'
import { runInForeground } from '../src/cli/run-handle.ts'
import { UsageError } from '../src/runner/args.ts'
import { makeApp, removeApps, sleepyWorker } from './fixtures.ts'

afterAll(removeApps)
afterEach(() => {
  process.exitCode = undefined
  vi.restoreAllMocks()
})

async function czo(...rawArgs: string[]): Promise<{ code: number, out: string, err: string }> {
  const out: string[] = []
  const err: string[] = []
  vi.spyOn(console, 'log').mockImplementation((...a) => void out.push(a.join(' ')))
  vi.spyOn(console, 'error').mockImplementation((...a) => void err.push(a.join(' ')))
  process.exitCode = undefined
  await runCommand(main, { rawArgs })
  const code = Number(process.exitCode ?? 0)
  process.exitCode = undefined
  vi.restoreAllMocks()
  return { code, out: out.join('\n'), err: err.join('\n') }
}

describe('czo CLI (in process)', () => {
  it('workers:build and workers:list', async () => {
    const app = makeApp({ 'server/workers/a.ts': sleepyWorker('alpha') })
    const built = await czo('workers:build', '--cwd', app.dir)
    expect(built.code).toBe(0)
    expect(built.out).toMatch(/built 1 worker file into .*\.output\/server\/workers in \d+ ms/)
    expect(built.out).toContain('run it with: node ')

    const json = await czo('workers:list', `--cwd=${app.dir}`, '--json')
    expect(JSON.parse(json.out)).toMatchObject([{ name: 'alpha', file: 'server/workers/a.ts', queue: 'alpha', options: { concurrency: 1 } }])
    const text = await czo('workers:list', '--cwd', app.dir)
    expect(text.out).toContain('alpha\n  file:    server/workers/a.ts\n  queue:   alpha\n  options: autorun=true concurrency=1')
  })

  it('bad input: exit code and a message naming the culprit', async () => {
    const app = makeApp({ 'server/workers/a.ts': sleepyWorker('alpha') })
    expect(await czo('workers:build', '--cwd', app.dir, '--bogus')).toMatchObject({ code: 2, err: '[czo] unknown flag --bogus; see --help' })
    expect(await czo('workers:list', '--cwd', app.dir, '--dir', 'nope')).toMatchObject({ code: 1, err: expect.stringContaining('No workers folder at nope') })
    expect(await czo('workers:start', '--cwd', app.dir)).toMatchObject({ code: 2, err: expect.stringContaining('czo workers:build --cwd') })
    expect(await czo('workers:dev', '--cwd', app.dir, '--workers')).toMatchObject({ code: 2, err: '[czo] --workers needs a value' })
    expect(await czo('workers:start', '--cwd', app.dir, '--shutdown-timeout=1.5')).toMatchObject({ code: 2, err: expect.stringContaining('--shutdown-timeout must be a positive whole number') })
  })

  it('checks flags strictly', () => {
    const args = { cwd: { type: 'string' }, json: { type: 'boolean' }, shutdownTimeout: { type: 'string' } } as const
    expect(() => assertKnownFlags(['--cwd', 'x', '--json', '--no-json', '--shutdown-timeout=1', '--', 'rest'], args)).not.toThrow()
    expect(() => assertKnownFlags(['stray'], args)).toThrow('unexpected argument "stray"')
    expect(() => assertKnownFlags(['-'], args)).toThrow(UsageError)
    expect(() => assertKnownFlags(['--cwdx=1'], args)).toThrow('unknown flag --cwdx')
    expect(stringFlag(undefined, 'x')).toBeUndefined()
    expect(() => stringFlag(true, 'x')).toThrow('--x needs a value')
    expect(runOptions({ 'workers': 'a,b', 'shutdown-timeout': '10' })).toEqual({ workers: ['a', 'b'], shutdownTimeout: 10 })
    expect(runOptions({})).toEqual({})
  })

  it('maps errors to exit codes', async () => {
    expect(cliError(new UsageError('u')).code).toBe(2)
    expect(cliError(new Error('other'))).toMatchObject({ code: 1 })
    const error = vi.spyOn(console, 'error').mockImplementation(() => {})
    await guard(async () => 7)
    expect(process.exitCode).toBe(7)
    await guard(async () => {
      throw new UsageError('bad')
    })
    expect(process.exitCode).toBe(2)
    expect(error).toHaveBeenCalledWith('[czo] bad')
  })

  it('runs a handle in the foreground: first signal stops, second forces', async () => {
    let finish!: (code: number) => void
    const exited = new Promise<number>((resolve) => {
      finish = resolve
    })
    const calls: string[] = []
    const handle = { ready: Promise.resolve(), exited, stop: async () => { calls.push('stop'); return 0 }, force: () => void calls.push('force') }
    const events = new EventEmitter()
    const running = runInForeground(handle, events)
    events.emit('SIGINT')
    events.emit('SIGTERM')
    finish(3)
    expect(await running).toBe(3)
    expect(calls).toEqual(['stop', 'force'])
    expect(events.listenerCount('SIGINT')).toBe(0)
  })
})
