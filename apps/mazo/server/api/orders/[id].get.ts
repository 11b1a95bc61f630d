import { useQueue } from '@czo/kit'
import { bounded, toHttpError } from '../../lib/http'
import { chainedJobIds } from '../../lib/orders'

/**
 * A job's state, then its data. In that order: a job seen completed already has its result
 * (BullMQ writes both in one step), whereas a job read first could complete before its state is.
 */
async function describe(queueName: string, id: string) {
  const queue = useQueue(queueName)
  const state = await queue.getJobState(id)
  if (state === 'unknown') return { state }
  const job = await queue.getJob(id)
  return {
    state,
    ...(state === 'completed' && job ? { result: job.returnvalue } : {}),
    ...(job?.failedReason ? { failedReason: job.failedReason } : {}),
    attemptsMade: job?.attemptsMade ?? 0,
  }
}

/** The order's state and result, with the state of the email and inventory jobs it chained. */
export default defineEventHandler(async (event) => {
  const id = getRouterParam(event, 'id') ?? ''
  if (!/^[\w-]{1,64}$/.test(id)) {
    throw createError({ statusCode: 400, statusMessage: 'Bad Request', message: 'Invalid order id: expected 1 to 64 characters among A-Z, a-z, 0-9, "_" and "-"' })
  }
  try {
    return await bounded('read order', async () => {
      const ids = chainedJobIds(id)
      const [order, emails, inventory] = await Promise.all([
        describe('orders', id),
        describe('emails', ids.emails),
        describe('inventory', ids.inventory),
      ])
      if (order.state === 'unknown') throw createError({ statusCode: 404, statusMessage: 'Not Found', message: `Order ${id} not found` })
      return {
        id,
        ...order,
        chained: { emails: { id: ids.emails, ...emails }, inventory: { id: ids.inventory, ...inventory } },
      }
    })
  }
  catch (error) {
    throw toHttpError(error)
  }
})
