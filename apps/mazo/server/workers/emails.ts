import { createHash } from 'node:crypto'
import { defineWorker } from '@czo/kit'

export interface EmailJobData {
  orderId: string
  to: string
  name?: string
  total: number
  currency: string
}

export interface EmailResult {
  messageId: string
  subject: string
  bytes: number
}

function formatMoney(cents: number, currency: string): string {
  return new Intl.NumberFormat('en-GB', { style: 'currency', currency }).format(cents / 100)
}

/**
 * Renders the order confirmation. Sending is out of this demo's scope: the message id is what
 * a mail provider would return. The address is not logged.
 */
export default defineWorker<EmailJobData, EmailResult>('emails', async (job) => {
  const { orderId, to, name, total, currency } = job.data
  const subject = `Your order ${orderId} is confirmed`
  const text = [
    `Hello ${name ?? 'there'},`,
    '',
    `Thank you for your order ${orderId}. Total: ${formatMoney(total, currency)}.`,
    '',
    'The mazo shop',
  ].join('\n')
  const messageId = `<${createHash('sha256').update(`${orderId}\n${to}\n${text}`).digest('hex').slice(0, 24)}@mazo.local>`
  return { messageId, subject, bytes: Buffer.byteLength(text) }
})
