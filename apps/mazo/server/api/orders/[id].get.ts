import { useQueue } from '@czo/kit'
import type { Job } from 'bullmq'
import { createError, defineEventHandler, getRouterParam } from '#imports'
import { bounded, toHttpError } from '../../lib/http'
import { chainedJobIds } from '../../lib/orders'

async function describe(job: Job | undefined) {
  if (!job) return { state: 'unknown' as const }
  return {
    state: await job.getState(),
    ...(job.returnvalue === null || job.returnvalue === undefined ? {} : { result: job.returnvalue }),
    ...(job.failedReason ? { failedReason: job.failedReason } : {}),
    attemptsMade: job.attemptsMade,
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
      const job = await useQueue('orders').getJob(id)
      if (!job) throw createError({ statusCode: 404, statusMessage: 'Not Found', message: `Order ${id} not found` })
      const ids = chainedJobIds(id)
      const [order, emails, inventory] = await Promise.all([
        describe(job),
        useQueue('emails').getJob(ids.emails).then(describe),
        useQueue('inventory').getJob(ids.inventory).then(describe),
      ])
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
