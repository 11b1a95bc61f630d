/**
 * Order pricing: the CPU-bound part of the orders worker. Pure (no I/O, no Nitro), so it runs
 * the same in the worker process and in tests.
 */
import { createHash } from 'node:crypto'
import { TAX_RATES, type Order } from './orders'

export interface PricedLine {
  sku: string
  quantity: number
  unitPrice: number
  discount: number
  net: number
  tax: number
  gross: number
}

export interface PricedOrder {
  currency: 'EUR'
  country: Order['country']
  lines: PricedLine[]
  net: number
  tax: number
  total: number
  /** Fraud-check fingerprint: the result of `rounds` chained SHA-256 rounds over the order. */
  fingerprint: string
  rounds: number
}

/** Volume discount in basis points: 5% from 10 units of a line, 10% from 100. */
function discountBps(quantity: number): number {
  return quantity >= 100 ? 1000 : quantity >= 10 ? 500 : 0
}

/** Rounds half to even, as accounting does, so line sums do not drift. */
function roundHalfEven(value: number): number {
  const floor = Math.floor(value)
  const diff = value - floor
  if (Math.abs(diff - 0.5) < 1e-9) return floor % 2 === 0 ? floor : floor + 1
  return Math.round(value)
}

/**
 * Prices an order (per-line discount and tax, in cents) and computes its fingerprint with
 * `rounds` chained hashes: the knob that sets the CPU cost of one order (see README).
 */
export function priceOrder(order: Order, rounds: number): PricedOrder {
  const rate = TAX_RATES[order.country]
  const lines = order.items.map((item) => {
    const gross0 = item.quantity * item.unitPrice
    const discount = roundHalfEven(gross0 * discountBps(item.quantity) / 10_000)
    const net = gross0 - discount
    const tax = roundHalfEven(net * rate)
    return { sku: item.sku, quantity: item.quantity, unitPrice: item.unitPrice, discount, net, tax, gross: net + tax }
  })
  let digest = createHash('sha256').update(JSON.stringify({ order, lines })).digest()
  for (let round = 0; round < rounds; round++) digest = createHash('sha256').update(digest).digest()
  const net = lines.reduce((sum, line) => sum + line.net, 0)
  const tax = lines.reduce((sum, line) => sum + line.tax, 0)
  return { currency: 'EUR', country: order.country, lines, net, tax, total: net + tax, fingerprint: digest.toString('hex'), rounds }
}

/** Default CPU rounds per order: `MAZO_ORDER_CPU_ROUNDS`, else 2000 (a few ms). */
export function defaultCpuRounds(env: Record<string, string | undefined> = process.env): number {
  const text = env.MAZO_ORDER_CPU_ROUNDS
  if (text === undefined || text === '') return 2000
  if (!/^\d+$/.test(text.trim())) throw new Error(`Invalid MAZO_ORDER_CPU_ROUNDS: expected a whole number, got "${text}"`)
  return Number(text.trim())
}
