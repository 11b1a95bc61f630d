import { defineWorker, useQueue } from '@czo/kit'
import { chainedJobIds, type OrderJobData } from '../lib/orders'
import { defaultCpuRounds, priceOrder, type PricedOrder } from '../lib/pricing'
import type { EmailJobData } from './emails'
import type { InventoryJobData } from './inventory'

export interface OrderResult extends PricedOrder {
  orderId: string
  /** The process that priced the order: the worker process, or the API in inline mode. */
  processedBy: { pid: number }
  chained: { emails: string, inventory: string }
}

// Read once when the worker process loads this file; a bad value stops the process at start.
const cpuRounds = defaultCpuRounds()
console.info(`[mazo] orders worker loaded in pid ${process.pid} (${cpuRounds} CPU rounds per order by default)`)

const CHAINED_JOB_OPTIONS = { attempts: 3, backoff: { type: 'exponential', delay: 500 } } as const

/** Prices the order (CPU-bound), then chains the confirmation email and the stock reservation. */
export default defineWorker<OrderJobData, OrderResult>('orders', async (job) => {
  const orderId = job.id!
  const priced = priceOrder(job.data.order, job.data.cpuRounds ?? cpuRounds)
  const ids = chainedJobIds(orderId)
  // Fixed job ids: when this job is retried after a crash, the chained jobs are not added twice.
  await Promise.all([
    useQueue<EmailJobData>('emails').add('order-confirmation', {
      orderId,
      to: job.data.order.customer.email,
      name: job.data.order.customer.name,
      total: priced.total,
      currency: priced.currency,
    }, { ...CHAINED_JOB_OPTIONS, jobId: ids.emails }),
    useQueue<InventoryJobData>('inventory').add('reserve', {
      orderId,
      lines: priced.lines.map(line => ({ sku: line.sku, quantity: line.quantity })),
    }, { ...CHAINED_JOB_OPTIONS, jobId: ids.inventory }),
  ])
  return { orderId, ...priced, processedBy: { pid: process.pid }, chained: ids }
}, { concurrency: 4 })
