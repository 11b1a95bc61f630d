import { execSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { CreateNodesContext, CreateNodesResult } from '@nx/devkit'
import { afterEach, describe, expect, it } from 'vitest'
import { createNodes, createNodesV2, normalizePluginOptions, type CzoNxPluginOptions } from '../src/plugins/plugin'
import * as pluginEntry from '../src/index'

const repoRoot = fileURLToPath(new URL('../../..', import.meta.url))
const [glob, createNodesFn] = createNodes

const dirs: string[] = []
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

function workspace(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'czo-nx-plugin-'))
  dirs.push(root)
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true })
    writeFileSync(join(root, path), content)
  }
  return root
}

function context(workspaceRoot: string): CreateNodesContext {
  return { workspaceRoot, nxJsonConfiguration: {} }
}

async function infer(root: string, files: string[], options?: CzoNxPluginOptions) {
  const results = await createNodesFn(files, options, context(root))
  return Object.fromEntries(results.map(([file, result]: readonly [string, CreateNodesResult]) => [file, result.projects ?? {}]))
}

describe('createNodes', () => {
  it('is exported as createNodes and createNodesV2 from the plugin entry, matching project files', () => {
    expect(pluginEntry.createNodes).toBe(createNodes)
    expect(pluginEntry.createNodesV2).toBe(createNodes)
    expect(createNodesV2).toBe(createNodes)
    expect(glob).toBe('**/{project.json,package.json}')
  })

  it('infers workers-build, workers-serve and workers-start for a project with server/workers, and nothing for one without', async () => {
    const root = workspace({
      'apps/shop/project.json': '{"name":"shop"}',
      'apps/shop/server/workers/orders.ts': 'export default {}',
      'apps/blog/project.json': '{"name":"blog"}',
      'apps/blog/server/routes/index.ts': 'export default {}',
    })
    const projects = await infer(root, ['apps/shop/project.json', 'apps/blog/project.json'])
    expect(Object.keys(projects)).toEqual(['apps/shop/project.json'])
    const targets = projects['apps/shop/project.json']!['apps/shop']!.targets!
    expect(Object.keys(targets)).toEqual(['workers-build', 'workers-serve', 'workers-start'])

    const build = targets['workers-build']!
    expect(build.executor).toBe('@czo/nx:build')
    expect(build.cache).toBe(true)
    expect(build.outputs).toEqual(['{projectRoot}/.output/server/workers'])
    expect(build.inputs).toEqual(expect.arrayContaining(['{projectRoot}/server/**/*', '{projectRoot}/package.json']))
    expect(build.continuous).toBeUndefined()

    const serve = targets['workers-serve']!
    expect(serve).toMatchObject({ executor: '@czo/nx:serve', continuous: true, readyWhen: { signal: true } })
    expect(serve.cache).toBeUndefined()

    const start = targets['workers-start']!
    expect(start).toMatchObject({ executor: '@czo/nx:start', continuous: true, dependsOn: ['workers-build'] })
  })

  it('does not treat an empty file named like the folder as a worker folder', async () => {
    const root = workspace({
      'apps/odd/project.json': '{"name":"odd"}',
      'apps/odd/server/workers': 'not a folder',
    })
    expect(await infer(root, ['apps/odd/project.json'])).toEqual({})
  })

  it('takes package.json projects only inside the package manager workspaces, and project.json over package.json', async () => {
    const root = workspace({
      'package.json': '{"name":"root","private":true}',
      'pnpm-workspace.yaml': 'packages:\n  - apps/*\n',
      'apps/api/package.json': '{"name":"api"}',
      'apps/api/server/workers/a.ts': '',
      'apps/both/package.json': '{"name":"both"}',
      'apps/both/project.json': '{"name":"both"}',
      'apps/both/server/workers/a.ts': '',
      'tools/fixtures/app/package.json': '{"name":"fixture"}',
      'tools/fixtures/app/server/workers/a.ts': '',
    })
    const projects = await infer(root, [
      'package.json',
      'apps/api/package.json',
      'apps/both/package.json',
      'apps/both/project.json',
      'tools/fixtures/app/package.json',
    ])
    expect(Object.keys(projects).sort()).toEqual(['apps/api/package.json', 'apps/both/project.json'])
  })

  it('uses the target names, worker folder and output folder from the plugin options', async () => {
    const root = workspace({
      'apps/shop/project.json': '{"name":"shop"}',
      'apps/shop/src/jobs/orders.ts': '',
      'apps/other/project.json': '{"name":"other"}',
      'apps/other/server/workers/orders.ts': '',
    })
    const projects = await infer(root, ['apps/shop/project.json', 'apps/other/project.json'], {
      buildTargetName: 'jobs-build',
      serveTargetName: 'jobs-dev',
      startTargetName: 'jobs-start',
      workersDir: 'src/jobs',
      outputDir: 'dist',
    })
    // The default folder no longer counts once another one is configured.
    expect(Object.keys(projects)).toEqual(['apps/shop/project.json'])
    const targets = projects['apps/shop/project.json']!['apps/shop']!.targets!
    expect(Object.keys(targets)).toEqual(['jobs-build', 'jobs-dev', 'jobs-start'])
    expect(targets['jobs-build']!.outputs).toEqual(['{projectRoot}/dist/server/workers'])
    expect(targets['jobs-build']!.inputs).toContain('{projectRoot}/src/**/*')
    expect(targets['jobs-build']!.options).toEqual({ workersDir: 'src/jobs', outputDir: 'dist' })
    expect(targets['jobs-dev']!.options).toEqual({ workersDir: 'src/jobs', outputDir: 'dist' })
    expect(targets['jobs-start']!.dependsOn).toEqual(['jobs-build'])
  })

  it('adds the kit and plugin sources as inputs when they live in the workspace (this repo: mazo)', async () => {
    const projects = await infer(repoRoot, ['apps/mazo/project.json', 'packages/kit/package.json', 'packages/nx/package.json'])
    expect(Object.keys(projects)).toEqual(['apps/mazo/project.json'])
    const inputs = projects['apps/mazo/project.json']!['apps/mazo']!.targets!['workers-build']!.inputs
    expect(inputs).toEqual(expect.arrayContaining([
      '{workspaceRoot}/packages/kit/src/**/*',
      '{workspaceRoot}/packages/kit/package.json',
      '{workspaceRoot}/packages/nx/src/**/*',
    ]))
  })

  it('hashes the installed versions of the kit and plugin when they come from outside the workspace', async () => {
    const root = workspace({
      'apps/shop/project.json': '{"name":"shop"}',
      'apps/shop/server/workers/a.ts': '',
    })
    symlinkSync(join(repoRoot, 'node_modules'), join(root, 'node_modules'))
    const projects = await infer(root, ['apps/shop/project.json'])
    const inputs = projects['apps/shop/project.json']!['apps/shop']!.targets!['workers-build']!.inputs!
    expect(inputs.filter(input => typeof input === 'string' && input.startsWith('{workspaceRoot}'))).toEqual([])
    const runtime = inputs.find((input): input is { runtime: string } => typeof input === 'object' && 'runtime' in input)
    expect(runtime?.runtime).not.toContain(root)
    const kitVersion = JSON.parse(readFileSync(join(repoRoot, 'packages/kit/package.json'), 'utf8')).version
    const nxVersion = JSON.parse(readFileSync(join(repoRoot, 'packages/nx/package.json'), 'utf8')).version
    expect(execSync(runtime!.runtime, { cwd: root, encoding: 'utf8' }).trim().split('\n')).toEqual([`@czo/kit@${kitVersion}`, `@czo/nx@${nxVersion}`])
  })

  it('rejects bad plugin options with a message naming the option', async () => {
    const root = workspace({ 'apps/shop/project.json': '{}', 'apps/shop/server/workers/a.ts': '' })
    await expect(async () => infer(root, ['apps/shop/project.json'], { buildTargetName: '' })).rejects.toThrow(/option "buildTargetName"/)
    expect(() => normalizePluginOptions({ workersDir: '../elsewhere' })).toThrow(/option "workersDir".*inside the project/)
    expect(() => normalizePluginOptions({ outputDir: 42 as unknown as string })).toThrow(/option "outputDir"/)
    expect(() => normalizePluginOptions({ serveTargetName: 'x', startTargetName: 'x' })).toThrow(/must differ/)
    expect(() => normalizePluginOptions({ workerDir: 'x' } as CzoNxPluginOptions)).toThrow(/unknown option\(s\) "workerDir"/)
  })
})
