import { describe, expect, it } from 'vitest'
import { defineWorker, isWorkerDefinition } from '../src/runtime/define-worker.ts'
import { getConnectionCount } from '../src/runtime/connection.ts'

describe('defineWorker', () => {
  it('returns a plain definition and opens nothing', () => {
    const processor = async () => 1
    const definition = defineWorker('orders', processor, { concurrency: 4 })
    expect(definition).toEqual({ name: 'orders', processor, options: { concurrency: 4 } })
    expect(defineWorker('emails', processor)).toEqual({ name: 'emails', processor })
    expect(getConnectionCount()).toBe(0)
    expect(isWorkerDefinition(definition)).toBe(true)
  })

  it.each([
    ['', /non-empty/],
    ['  ', /non-empty/],
    ['a:b', /must not contain ":"/],
    [42, /non-empty string, got 42/],
  ])('rejects the name %j', (name, message) => {
    expect(() => defineWorker(name as string, async () => {})).toThrow(message)
  })

  it('rejects a missing processor and a connection in options', () => {
    expect(() => defineWorker('x', 'nope' as never)).toThrow(/processor must be a function/)
    expect(() => defineWorker('x', async () => {}, { connection: {} } as never)).toThrow(/options.connection is not allowed/)
  })

  it('recognises definitions by shape', () => {
    expect(isWorkerDefinition({ name: 'a', processor: () => {} })).toBe(true)
    expect(isWorkerDefinition({ name: 'a' })).toBe(false)
    expect(isWorkerDefinition({ name: 'a', processor: () => {}, options: 3 })).toBe(false)
    expect(isWorkerDefinition(null)).toBe(false)
    expect(isWorkerDefinition(() => {})).toBe(false)
  })
})
