import { describe, expect, it } from 'vitest'
import { validateOrder } from '../server/lib/orders'
import { defaultCpuRounds, priceOrder } from '../server/lib/pricing'

describe('priceOrder', () => {
  it('applies volume discounts and the country tax per line, in cents', () => {
    const priced = priceOrder({
      customer: { email: 'a@b.co' },
      country: 'DE',
      items: [
        { sku: 'A', quantity: 10, unitPrice: 1999 },
        { sku: 'B', quantity: 100, unitPrice: 5 },
        { sku: 'C', quantity: 1, unitPrice: 0 },
      ],
    }, 3)
    // A: 19990 - 5% (999.5 -> 1000, half to even) = 18990, tax 19% = 3608.1 -> 3608
    // B: 500 - 10% = 450, tax 85.5 -> 86 (half to even)
    expect(priced.lines.map(line => [line.discount, line.net, line.tax])).toEqual([[1000, 18990, 3608], [50, 450, 86], [0, 0, 0]])
    expect(priced).toMatchObject({ net: 19440, tax: 3694, total: 23134, rounds: 3 })
  })

  it('has a fingerprint that depends on the rounds (the CPU knob) and on the order', () => {
    const order = validateOrder({ customer: { email: 'a@b.co' }, items: [{ sku: 'A', quantity: 1, unitPrice: 1 }] })
    if (!order.ok) throw new Error('valid order rejected')
    const one = priceOrder(order.value.order, 10).fingerprint
    expect(priceOrder(order.value.order, 10).fingerprint).toBe(one)
    expect(priceOrder(order.value.order, 11).fingerprint).not.toBe(one)
    expect(priceOrder({ ...order.value.order, country: 'US' }, 10).fingerprint).not.toBe(one)
  })

  it('reads MAZO_ORDER_CPU_ROUNDS and rejects a malformed value by name', () => {
    expect(defaultCpuRounds({})).toBe(2000)
    expect(defaultCpuRounds({ MAZO_ORDER_CPU_ROUNDS: '10000' })).toBe(10000)
    expect(() => defaultCpuRounds({ MAZO_ORDER_CPU_ROUNDS: '5ms' })).toThrow(/MAZO_ORDER_CPU_ROUNDS/)
  })
})
