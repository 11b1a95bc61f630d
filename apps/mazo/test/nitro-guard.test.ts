/** Worker code must not reach Nitro-only APIs: `nitro build` itself refuses it, naming the chain. */
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, expect, it } from 'vitest'
import { FIXTURES_DIR, nitroBuild, sandboxApp } from './helpers.ts'

const sandbox = sandboxApp(join(FIXTURES_DIR, 'nitro-only-helper'))
afterAll(() => sandbox.remove())

it('nitro build fails when a worker imports a helper that uses useRuntimeConfig, with the import chain and the kit alternative', async () => {
  const build = await nitroBuild(sandbox.dir)
  expect(build.code, build.output).not.toBe(0)
  const output = build.output
  // The Nitro-only import is named (`#imports`, where useRuntimeConfig comes from), with the
  // kit's alternative and the chain from the worker file, in order.
  expect(output).toMatch(/Nitro-only API in worker code: server\/lib\/settings\.ts imports "#imports"/)
  expect(output).toContain('useCzoConfig()')
  expect(output).toContain('Import chain: server/workers/reports.ts → server/lib/report.ts → server/lib/settings.ts')
  // Nothing deployable is left behind by a refused build.
  expect(existsSync(join(sandbox.dir, '.output/server/index.mjs'))).toBe(false)
  expect(existsSync(join(sandbox.dir, '.output/server/workers/index.mjs'))).toBe(false)
})
