/**
 * The kit's Nitro runtime plugin, bundled into the server by the module.
 * - `useCzoConfig()` reads `runtimeConfig.czo` (with its `NITRO_CZO_*` overrides), validated
 *   here at startup so a bad value stops the server with the variable named;
 * - queues and connections close when Nitro closes;
 * - inline mode (`runtimeConfig.czo.workers.inline`, off by default) starts the built workers
 *   in this process. Outside inline mode no worker file is ever imported here.
 */
import { closeAll, setRuntimeConfigReader, useCzoConfig, type CzoConfigInput } from '@czo/kit'
import { defineNitroPlugin, useRuntimeConfig } from 'nitropack/runtime'

interface InlineWorkers {
  shutdown(): Promise<unknown>
}

async function startInlineWorkers(): Promise<InlineWorkers> {
  const runner = await import('@czo/kit/runner')
  let entry: typeof import('#czo/workers')
  try {
    entry = await import('#czo/workers')
  }
  catch (error) {
    throw new Error('[czo] inline mode: the built workers (server/workers/_entry.mjs) could not be loaded. In `nitro dev`, inline mode must be on when the dev server starts (NITRO_CZO_WORKERS_INLINE=true); in production, build with the czo module.', { cause: error })
  }
  const definitions = await runner.loadWorkerDefinitions(entry.workers)
  await runner.startWorkers(definitions)
  return { shutdown: () => runner.shutdownWorkers() }
}

export default defineNitroPlugin((nitroApp) => {
  setRuntimeConfigReader(() => useRuntimeConfig().czo as CzoConfigInput | undefined)
  const config = useCzoConfig()

  let inline: Promise<InlineWorkers | undefined> | undefined
  if (config.workers.inline) {
    console.info('[czo] inline mode: workers run inside the Nitro process (NITRO_CZO_WORKERS_INLINE)')
    inline = startInlineWorkers().catch((error: unknown) => {
      // Nitro does not await plugins: a server whose workers failed to start must not look healthy.
      console.error('[czo] inline workers failed to start:', error)
      process.exitCode = 1
      process.kill(process.pid, 'SIGTERM')
      return undefined
    })
  }

  nitroApp.hooks.hook('close', async () => {
    const workers = await inline
    await workers?.shutdown()
    await closeAll()
  })
})
