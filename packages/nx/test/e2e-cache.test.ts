/**
 * `nx run mazo:workers-build` through the real nx binary, in a fixture copy of the workspace:
 * a second run is a local cache hit, a deleted output folder is restored from the cache, and a
 * changed worker file is a miss.
 */
import { appendFileSync, existsSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { createFixtureWorkspace, listFiles, nxRunner, repoRoot, type NxRunner } from './e2e-helpers'

let root: string
let runner: NxRunner

beforeAll(() => {
  root = createFixtureWorkspace()
  runner = nxRunner({ redisUrl: inject('redisUrl'), prefix: 'unused' })
}, 120_000)

afterAll(() => {
  runner?.cleanup()
  if (root) rmSync(root, { recursive: true, force: true })
})

const CACHE_HIT = /nx run mazo:workers-build\s+\[local cache\]/

describe('workers-build caching', () => {
  it('hits the cache, restores a deleted output, and misses after a worker file changes', async () => {
    const outDir = join(root, 'apps/mazo/.output/server/workers')

    const first = await runner.run(root, ['run', 'mazo:workers-build'])
    expect(first.code, first.output).toBe(0)
    expect(first.output).not.toMatch(CACHE_HIT)
    expect(first.output).toMatch(/Built 3 worker file\(s\)/)
    expect(existsSync(join(outDir, 'index.mjs'))).toBe(true)
    expect(existsSync(join(outDir, '_entry.mjs'))).toBe(true)
    const built = listFiles(outDir)

    const second = await runner.run(root, ['run', 'mazo:workers-build'])
    expect(second.code, second.output).toBe(0)
    expect(second.output).toMatch(CACHE_HIT)
    expect(second.output).toMatch(/read the output from the cache/)

    rmSync(outDir, { recursive: true, force: true })
    const third = await runner.run(root, ['run', 'mazo:workers-build'])
    expect(third.code, third.output).toBe(0)
    expect(third.output).toMatch(CACHE_HIT)
    expect(listFiles(outDir)).toEqual(built)

    appendFileSync(join(root, 'apps/mazo/server/workers/emails.ts'), '\nexport const changedByTest = 1\n')
    const fourth = await runner.run(root, ['run', 'mazo:workers-build'])
    expect(fourth.code, fourth.output).toBe(0)
    expect(fourth.output).not.toMatch(CACHE_HIT)
    expect(fourth.output).toMatch(/Built 3 worker file\(s\)/)
  }, 240_000)
})

describe('nx show project', () => {
  it('lists the workers targets of mazo in this workspace (plugin loaded from its TypeScript sources)', async () => {
    const shown = await runner.run(repoRoot, ['show', 'project', 'mazo', '--json'])
    expect(shown.code, shown.output).toBe(0)
    const project = JSON.parse(shown.output.slice(shown.output.indexOf('{'))) as { targets: Record<string, { executor?: string, continuous?: boolean, dependsOn?: unknown[] }> }
    expect(project.targets['workers-build']?.executor).toBe('@czo/nx:build')
    expect(project.targets['workers-serve']).toMatchObject({ executor: '@czo/nx:serve', continuous: true })
    expect(project.targets['workers-start']).toMatchObject({ executor: '@czo/nx:start', continuous: true })
    expect(project.targets['workers-start']!.dependsOn).toContain('workers-build')
    expect(project.targets.serve!.dependsOn).toEqual(expect.arrayContaining([{ target: 'workers-serve' }, { target: 'redis', waitFor: 'ready' }]))
    expect(project.targets.redis).toMatchObject({ continuous: true })
  }, 120_000)
})
