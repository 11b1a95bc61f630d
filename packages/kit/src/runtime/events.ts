/**
 * A small typed event bus. Listeners run one after another in registration order and async
 * listeners are awaited; a listener that throws is reported and the others still run.
 */
export type EventMap = { [event: string]: unknown }

export type Listener<Payload> = (payload: Payload) => void | Promise<void>

export interface EventBus<Events extends EventMap> {
  /** Adds a listener; returns a function that removes it. */
  on<E extends keyof Events & string>(event: E, listener: Listener<Events[E]>): () => void
  /** Adds a listener that runs for the next emit only. */
  once<E extends keyof Events & string>(event: E, listener: Listener<Events[E]>): () => void
  off<E extends keyof Events & string>(event: E, listener: Listener<Events[E]>): void
  /** Runs every listener of `event` in order, awaiting each; resolves once all have run. */
  emit<E extends keyof Events & string>(event: E, payload: Events[E]): Promise<void>
  listenerCount(event: keyof Events & string): number
}

export type ListenerErrorHandler = (error: unknown, event: string) => void

const reportToConsole: ListenerErrorHandler = (error, event) => {
  console.error(`[czo] listener for "${event}" threw:`, error)
}

const NOTHING: Promise<void> = Promise.resolve()

async function runInOrder(list: Listener<unknown>[], payload: unknown, report: (error: unknown) => void): Promise<void> {
  for (const listener of list) {
    try {
      await listener(payload)
    }
    catch (error) {
      report(error)
    }
  }
}

export function createEventBus<Events extends EventMap>(onListenerError: ListenerErrorHandler = reportToConsole): EventBus<Events> {
  type AnyListener = Listener<unknown>
  const listeners = new Map<string, AnyListener[]>()
  const onceWrappers = new WeakMap<AnyListener, AnyListener>()

  const off: EventBus<Events>['off'] = (event, listener) => {
    const list = listeners.get(event)
    if (!list) return
    const target = onceWrappers.get(listener as AnyListener) ?? (listener as AnyListener)
    const index = list.indexOf(target)
    if (index !== -1) list.splice(index, 1)
  }

  const on: EventBus<Events>['on'] = (event, listener) => {
    const list = listeners.get(event) ?? []
    list.push(listener as AnyListener)
    listeners.set(event, list)
    return () => off(event, listener)
  }

  return {
    on,
    off,
    once(event, listener) {
      const wrapper: AnyListener = (payload) => {
        off(event, listener)
        return (listener as AnyListener)(payload)
      }
      onceWrappers.set(listener as AnyListener, wrapper)
      const list = listeners.get(event) ?? []
      list.push(wrapper)
      listeners.set(event, list)
      return () => off(event, listener)
    },
    emit(event, payload) {
      const list = listeners.get(event)
      // The queue layer emits per job: with nobody listening, that costs one lookup.
      if (!list || list.length === 0) return NOTHING
      // A copy, so that listeners added or removed while emitting do not change this round.
      return runInOrder([...list], payload, error => onListenerError(error, event))
    },
    listenerCount(event) {
      return listeners.get(event)?.length ?? 0
    },
  }
}

/** Events the queue layer emits. Apps add their own by augmenting this interface. */
export interface CzoEvents {
  [event: string]: unknown
  'worker:ready': { worker: string, queue: string, concurrency: number }
  'worker:closed': { worker: string, queue: string }
  'job:completed': { worker: string, queue: string, jobId: string, result: unknown }
  'job:failed': { worker: string, queue: string, jobId: string | undefined, error: Error }
}

let bus: EventBus<CzoEvents> | undefined

/** The process-wide event bus. */
export function useEvents(): EventBus<CzoEvents> {
  bus ??= createEventBus<CzoEvents>()
  return bus
}
