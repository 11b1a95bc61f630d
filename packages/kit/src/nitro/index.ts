export { copyKitRuntime, czo, czo as default, seedRuntimeConfig, WORKERS_ENTRY_ID } from './module.js'
export type { CzoNitroOptions } from './module.js'
