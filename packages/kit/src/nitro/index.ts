export { czo, czo as default, seedRuntimeConfig, WORKERS_ENTRY_ID, writeKitRuntime } from './module.js'
export type { CzoNitroOptions } from './module.js'
