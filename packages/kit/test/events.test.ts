import { describe, expect, it, vi } from 'vitest'
import { createEventBus, useEvents } from '../src/runtime/events.ts'

type Events = { tick: number, other: string }

describe('event bus', () => {
  it('awaits async listeners one after another in registration order', async () => {
    const bus = createEventBus<Events>()
    const seen: string[] = []
    bus.on('tick', async (n) => {
      await new Promise(resolve => setTimeout(resolve, 20))
      seen.push(`slow ${n}`)
    })
    bus.on('tick', n => void seen.push(`fast ${n}`))
    await bus.emit('tick', 1)
    expect(seen).toEqual(['slow 1', 'fast 1'])
  })

  it('reports a throwing listener and still runs the others', async () => {
    const report = vi.fn()
    const bus = createEventBus<Events>(report)
    const seen: number[] = []
    bus.on('tick', () => {
      throw new Error('boom')
    })
    bus.on('tick', async () => {
      throw new Error('async boom')
    })
    bus.on('tick', n => void seen.push(n))
    await bus.emit('tick', 7)
    expect(seen).toEqual([7])
    expect(report).toHaveBeenCalledTimes(2)
    expect(report.mock.calls.map(([error, event]) => [(error as Error).message, event])).toEqual([['boom', 'tick'], ['async boom', 'tick']])
  })

  it('supports once, off and the unsubscribe function', async () => {
    const bus = createEventBus<Events>()
    const seen: string[] = []
    const onceListener = (s: string) => void seen.push(`once ${s}`)
    bus.once('other', onceListener)
    const stop = bus.on('other', s => void seen.push(`on ${s}`))
    await bus.emit('other', 'a')
    stop()
    await bus.emit('other', 'b')
    expect(seen).toEqual(['once a', 'on a'])
    const removed = () => void seen.push('removed')
    bus.once('other', removed)
    bus.off('other', removed)
    expect(bus.listenerCount('other')).toBe(0)
    bus.off('tick', () => {})
    await bus.emit('other', 'c')
    expect(seen).toEqual(['once a', 'on a'])
  })

  it('reports to the console by default and has one process-wide bus', async () => {
    const error = vi.spyOn(console, 'error').mockImplementation(() => {})
    const bus = createEventBus<Events>()
    bus.on('tick', () => {
      throw new Error('loud')
    })
    await bus.emit('tick', 1)
    expect(error).toHaveBeenCalledWith('[czo] listener for "tick" threw:', expect.any(Error))
    error.mockRestore()
    expect(useEvents()).toBe(useEvents())
  })
})
