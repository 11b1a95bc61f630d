import { defineWorker } from '@czo/kit'

export interface InventoryJobData {
  orderId: string
  lines: { sku: string, quantity: number }[]
}

export interface InventoryResult {
  orderId: string
  reserved: { sku: string, quantity: number }[]
  units: number
}

/** Reserves stock for an order: lines of the same SKU are merged into one reservation. */
export default defineWorker<InventoryJobData, InventoryResult>('inventory', async (job) => {
  const bySku = new Map<string, number>()
  for (const line of job.data.lines) bySku.set(line.sku, (bySku.get(line.sku) ?? 0) + line.quantity)
  const reserved = [...bySku].sort(([a], [b]) => a.localeCompare(b)).map(([sku, quantity]) => ({ sku, quantity }))
  return { orderId: job.data.orderId, reserved, units: reserved.reduce((sum, line) => sum + line.quantity, 0) }
})
