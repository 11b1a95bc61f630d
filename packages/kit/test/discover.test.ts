import { afterAll, describe, expect, it } from 'vitest'
import { findWorkerFiles, isWorkerFileName, resolveLayout, WorkerDiscoveryError } from '../src/build/discover.ts'
import { makeApp, removeApps } from './fixtures.ts'

afterAll(removeApps)

describe('worker discovery', () => {
  it('finds worker files by convention, sorted, skipping _files, tests and specs', async () => {
    const app = makeApp({
      'server/workers/orders.ts': '',
      'server/workers/emails.mjs': '',
      'server/workers/nested/deep.mts': '',
      'server/workers/plain.js': '',
      'server/workers/_helper.ts': '',
      'server/workers/orders.test.ts': '',
      'server/workers/orders.spec.mjs': '',
      'server/workers/types.d.ts': '',
      'server/workers/readme.md': '',
      'server/workers/it\'s "quoted" é.ts': '',
    })
    expect(await findWorkerFiles({ rootDir: app.dir })).toEqual([
      'server/workers/emails.mjs',
      'server/workers/it\'s "quoted" é.ts',
      'server/workers/nested/deep.mts',
      'server/workers/orders.ts',
      'server/workers/plain.js',
    ])
  })

  it('uses a configurable folder', async () => {
    const app = makeApp({ 'src/jobs/a.ts': '' })
    expect(await findWorkerFiles({ rootDir: app.dir, workersDir: 'src/jobs' })).toEqual(['src/jobs/a.ts'])
  })

  it('says clearly when the folder is missing or has no workers', async () => {
    const app = makeApp({ 'server/workers/_only-helper.ts': '' })
    await expect(findWorkerFiles({ rootDir: app.dir })).rejects.toThrow(/^No worker files in server\/workers/)
    await expect(findWorkerFiles({ rootDir: app.dir, workersDir: 'nope' })).rejects.toThrow(WorkerDiscoveryError)
    await expect(findWorkerFiles({ rootDir: app.dir, workersDir: 'nope' })).rejects.toThrow(/^No workers folder at nope/)
  })

  it('resolves the layout', () => {
    expect(resolveLayout({ rootDir: '/app' })).toEqual({ rootDir: '/app', workersDir: '/app/server/workers', outputDir: '/app/.output', workersOutDir: '/app/.output/server/workers' })
    expect(isWorkerFileName('x.cts')).toBe(false)
  })
})
