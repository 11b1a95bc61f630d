/**
 * The order shape and its validation, shared by the API (which rejects bad input with 400)
 * and the orders worker (which trusts what the API enqueued). No Nitro API here: worker code
 * imports this file.
 */

export const TAX_RATES = { FR: 0.2, DE: 0.19, ES: 0.21, IT: 0.22, GB: 0.2, US: 0 } as const
export type Country = keyof typeof TAX_RATES

export interface OrderItem {
  sku: string
  quantity: number
  /** Price of one unit in cents, tax excluded. */
  unitPrice: number
}

export interface Order {
  customer: { email: string, name?: string }
  country: Country
  items: OrderItem[]
}

/** What the API enqueues on the `orders` queue. */
export interface OrderJobData {
  order: Order
  /** CPU cost of pricing this order (see lib/pricing.ts); the worker's default when absent. */
  cpuRounds?: number
}

export interface FieldError {
  field: string
  message: string
}

export const MAX_ITEMS = 100
export const MAX_QUANTITY = 1000
export const MAX_UNIT_PRICE = 10_000_000
export const MAX_CPU_ROUNDS = 1_000_000

const SKU = /^[A-Z0-9][A-Z0-9-]{0,31}$/
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function isWholeNumber(value: unknown, min: number, max: number): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max
}

/** Checks a request body; on failure, one error per offending field, named by its path. */
export function validateOrder(body: unknown): { ok: true, value: OrderJobData } | { ok: false, errors: FieldError[] } {
  const errors: FieldError[] = []
  if (!isRecord(body)) return { ok: false, errors: [{ field: '(body)', message: 'must be a JSON object' }] }

  const customer = body.customer
  if (!isRecord(customer)) {
    errors.push({ field: 'customer', message: 'is required: an object with an email' })
  }
  else {
    if (typeof customer.email !== 'string' || !EMAIL.test(customer.email) || customer.email.length > 254) {
      errors.push({ field: 'customer.email', message: 'must be an email address' })
    }
    if (customer.name !== undefined && (typeof customer.name !== 'string' || customer.name.length > 200)) {
      errors.push({ field: 'customer.name', message: 'must be a string of at most 200 characters' })
    }
  }

  const country = body.country ?? 'FR'
  if (typeof country !== 'string' || !Object.hasOwn(TAX_RATES, country)) {
    errors.push({ field: 'country', message: `must be one of ${Object.keys(TAX_RATES).join(', ')}` })
  }

  const items = body.items
  if (!Array.isArray(items) || items.length === 0) {
    errors.push({ field: 'items', message: 'must be a non-empty array' })
  }
  else if (items.length > MAX_ITEMS) {
    errors.push({ field: 'items', message: `must have at most ${MAX_ITEMS} entries` })
  }
  else {
    items.forEach((item, index) => {
      const at = `items[${index}]`
      if (!isRecord(item)) {
        errors.push({ field: at, message: 'must be an object with sku, quantity and unitPrice' })
        return
      }
      if (typeof item.sku !== 'string' || !SKU.test(item.sku)) {
        errors.push({ field: `${at}.sku`, message: 'must be 1 to 32 characters: A-Z, 0-9 and "-"' })
      }
      if (!isWholeNumber(item.quantity, 1, MAX_QUANTITY)) {
        errors.push({ field: `${at}.quantity`, message: `must be a whole number from 1 to ${MAX_QUANTITY}` })
      }
      if (!isWholeNumber(item.unitPrice, 0, MAX_UNIT_PRICE)) {
        errors.push({ field: `${at}.unitPrice`, message: `must be a whole number of cents from 0 to ${MAX_UNIT_PRICE}` })
      }
    })
  }

  if (body.cpuRounds !== undefined && !isWholeNumber(body.cpuRounds, 0, MAX_CPU_ROUNDS)) {
    errors.push({ field: 'cpuRounds', message: `must be a whole number from 0 to ${MAX_CPU_ROUNDS}` })
  }

  if (errors.length > 0) return { ok: false, errors }
  const input = body as { customer: { email: string, name?: string }, items: OrderItem[], cpuRounds?: number }
  return {
    ok: true,
    value: {
      order: {
        customer: { email: input.customer.email, ...(input.customer.name ? { name: input.customer.name } : {}) },
        country: country as Country,
        items: input.items.map(({ sku, quantity, unitPrice }) => ({ sku, quantity, unitPrice })),
      },
      ...(input.cpuRounds === undefined ? {} : { cpuRounds: input.cpuRounds }),
    },
  }
}

/** Ids of the jobs an order chains, derived from the order's id so that a retry re-adds nothing. */
export function chainedJobIds(orderId: string): { emails: string, inventory: string } {
  return { emails: `${orderId}-email`, inventory: `${orderId}-inventory` }
}
