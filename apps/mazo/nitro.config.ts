import czo from '@czo/kit/nitro'
import { defineNitroConfig } from 'nitropack/config'

export default defineNitroConfig({
  srcDir: 'server',
  compatibilityDate: '2025-07-01',
  // Builds server/workers into .output/server/workers next to the API and wires the kit's
  // config (runtimeConfig.czo, NITRO_CZO_*) and shutdown into Nitro.
  modules: [czo()],
})
