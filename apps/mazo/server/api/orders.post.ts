import { useQueue } from '@czo/kit'
import { bounded, toHttpError } from '../lib/http'
import { validateOrder, type OrderJobData } from '../lib/orders'

/** Validates an order and enqueues it; the orders worker prices it. 202 with the order's id. */
export default defineEventHandler(async (event) => {
  const body: unknown = await readBody(event)
  const checked = validateOrder(body)
  if (!checked.ok) {
    throw createError({
      statusCode: 400,
      statusMessage: 'Bad Request',
      message: `Invalid order: ${checked.errors.map(error => `${error.field} ${error.message}`).join('; ')}`,
      data: { errors: checked.errors },
    })
  }
  let id: string | undefined
  try {
    // `add` itself fails within redis.queueTimeout when Redis is down; `bounded` is a backstop.
    const job = await bounded('enqueue order', () => useQueue<OrderJobData>('orders').add('order', checked.value, {
      attempts: 3,
      backoff: { type: 'exponential', delay: 1000 },
      removeOnComplete: { age: 24 * 3600, count: 10_000 },
      removeOnFail: { age: 7 * 24 * 3600 },
    }))
    id = job.id
  }
  catch (error) {
    throw toHttpError(error)
  }
  setResponseStatus(event, 202)
  return { id, state: 'waiting', href: `/api/orders/${id}` }
})
