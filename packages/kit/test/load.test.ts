import { describe, expect, it } from 'vitest'
import { defineWorker } from '../src/runtime/define-worker.ts'
import { parseWorkerProcessArgs, UsageError } from '../src/runner/args.ts'
import { effectiveWorkerOptions } from '../src/runner/effective-options.ts'
import { loadWorkerDefinitions, WorkerLoadError } from '../src/runner/load.ts'
import { parseWorkerList, selectWorkers, WorkerSelectionError } from '../src/runner/select.ts'

const a = defineWorker('a', async () => 1)
const b = defineWorker('b', async () => 2, { concurrency: 5, lockDuration: 10_000 })
const entry = (file: string, module: Record<string, unknown> | Error) => ({
  file,
  load: async () => {
    if (module instanceof Error) throw module
    return module
  },
})

describe('loadWorkerDefinitions', () => {
  it('returns the definitions in file order', async () => {
    expect(await loadWorkerDefinitions([entry('w/a.ts', { default: a }), entry('w/b.ts', { default: b })])).toEqual([a, b])
  })

  it('names a file without a default export', async () => {
    const error = await loadWorkerDefinitions([entry('server/workers/x.ts', { helper: 1 })]).catch(e => e)
    expect(error).toBeInstanceOf(WorkerLoadError)
    expect(error.message).toMatch(/^server\/workers\/x\.ts: no default export/)
    expect(error.files).toEqual(['server/workers/x.ts'])
  })

  it.each([
    [{ name: 'x' }, /an object with keys \["name"\]/],
    [() => {}, /a function/],
    [null, /null/],
    ['orders', /string "orders"/],
  ])('names a file whose default export is not a definition (%j)', async (value, what) => {
    const error = await loadWorkerDefinitions([entry('server/workers/y.ts', { default: value })]).catch(e => e)
    expect(error.message).toMatch(/^server\/workers\/y\.ts: the default export is /)
    expect(error.message).toMatch(what)
  })

  it('names both files of a duplicated worker name', async () => {
    const error = await loadWorkerDefinitions([entry('w/one.ts', { default: a }), entry('w/two.ts', { default: defineWorker('a', async () => 3) })]).catch(e => e)
    expect(error.message).toBe('Worker "a" is defined twice: in w/one.ts and in w/two.ts. Worker names must be unique.')
    expect(error.files).toEqual(['w/one.ts', 'w/two.ts'])
  })

  it('keeps the original error and stack of a file that throws on import', async () => {
    const original = new Error('top-level boom')
    const error = await loadWorkerDefinitions([entry('w/bad.ts', original)]).catch(e => e)
    expect(error.message).toMatch(/^w\/bad\.ts: threw while loading:\nError: top-level boom\n\s+at /)
    expect(error.cause).toBe(original)
    const text = await loadWorkerDefinitions([entry('w/str.ts', 'x' as never)]).catch(() => undefined)
    expect(text).toBeUndefined()
    const nonError = await loadWorkerDefinitions([{ file: 'w/s.ts', load: () => Promise.reject('just a string') }]).catch(e => e)
    expect(nonError.message).toBe('w/s.ts: threw while loading:\njust a string')
  })
})

describe('worker selection', () => {
  it('selects by name in the given order and lists known names for an unknown one', () => {
    expect(selectWorkers([a, b], ['b', 'a'])).toEqual([b, a])
    expect(selectWorkers([a, b], undefined)).toEqual([a, b])
    expect(() => selectWorkers([a, b], ['c', 'd'])).toThrow('--workers: unknown workers "c", "d". Known workers: a, b')
    expect(() => selectWorkers([a, b], ['c'], 'CZO_WORKERS')).toThrow(/^CZO_WORKERS: unknown worker "c"/)
    expect(() => selectWorkers([], undefined)).toThrow(WorkerSelectionError)
  })

  it('rejects an empty list', () => {
    expect(parseWorkerList(' a, b ,a', '--workers')).toEqual(['a', 'b'])
    expect(() => parseWorkerList(' , ', '--workers')).toThrow('--workers is empty')
  })
})

describe('worker process flags', () => {
  it('reads flags, then env', () => {
    expect(parseWorkerProcessArgs(['--workers=a,b', '--shutdown-timeout', '100'], {})).toEqual({ workers: ['a', 'b'], workersSource: '--workers', shutdownTimeout: 100, help: false })
    expect(parseWorkerProcessArgs([], { CZO_WORKERS: 'a', CZO_SHUTDOWN_TIMEOUT: '5' })).toEqual({ workers: ['a'], workersSource: 'CZO_WORKERS', shutdownTimeout: 5, help: false })
    expect(parseWorkerProcessArgs(['--workers', 'b'], { CZO_WORKERS: 'a' }).workers).toEqual(['b'])
    expect(parseWorkerProcessArgs(['-h'], {}).help).toBe(true)
  })

  it.each([
    [['--bogus=1'], 'unknown flag --bogus'],
    [['stray'], 'unexpected argument "stray"'],
    [['--workers'], '--workers needs a value'],
    [['--workers', '--shutdown-timeout=1'], '--workers needs a value'],
    [['--workers='], '--workers is empty'],
    [['--shutdown-timeout=soon'], '--shutdown-timeout must be a positive whole number of milliseconds, got "soon"'],
  ])('rejects %j', (argv, message) => {
    expect(() => parseWorkerProcessArgs(argv, {})).toThrow(UsageError)
    expect(() => parseWorkerProcessArgs(argv, {})).toThrow(message)
  })

  it('names the variable of a malformed env value', () => {
    expect(() => parseWorkerProcessArgs([], { CZO_SHUTDOWN_TIMEOUT: '0' })).toThrow(/^CZO_SHUTDOWN_TIMEOUT must be/)
    expect(() => parseWorkerProcessArgs([], { CZO_WORKERS: '' })).toThrow(/^CZO_WORKERS is empty/)
  })
})

describe('effective options', () => {
  it('fills in BullMQ defaults under the definition options', () => {
    expect(effectiveWorkerOptions(b, '{czo}')).toEqual({
      autorun: true, concurrency: 5, drainDelay: 5, lockDuration: 10_000, lockRenewTime: 5000,
      maxStalledCount: 1, maximumRateLimitDelay: 30_000, prefix: '{czo}', runRetryDelay: 15_000, stalledInterval: 30_000,
    })
  })
})
