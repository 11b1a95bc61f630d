/** The czo Nitro module, in process: config seeding, the kit copy, and real (small) Nitro builds. */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build, createNitro, prepare } from 'nitropack/core'
import type { Nitro } from 'nitropack/types'
import { afterEach, describe, expect, inject, it } from 'vitest'
import { rawCommand } from '../../../tools/redis/resp.mjs'
import { spawnTracked } from '../../../tools/test/processes.ts'
import { czo, seedRuntimeConfig, writeKitRuntime } from '../src/nitro/index.ts'
import { czoConfigDefaults, czoRuntimeConfigSeed } from '../src/runtime/config.ts'

const DEFU_DIR = realpathSync(join(dirname(fileURLToPath(import.meta.url)), '../node_modules/defu'))

const cleanups: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'czo-nitro-'))
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    return statSync(path).isDirectory() ? files(path).map(file => `${name}/${file}`) : [name]
  })
}

/** A tiny Nitro app: one route that enqueues, one worker with a recognisable side effect. */
function writeApp(): string {
  const root = tempDir()
  mkdirSync(join(root, 'server/api'), { recursive: true })
  mkdirSync(join(root, 'server/workers'), { recursive: true })
  writeFileSync(join(root, 'server/api/enqueue.post.ts'), `import { useQueue } from '@czo/kit'\nexport default defineEventHandler(async () => ({ id: (await useQueue('mail').add('x', {})).id }))\n`)
  writeFileSync(join(root, 'server/workers/mail.ts'), `import { defineWorker } from '@czo/kit'\nimport { defu } from 'defu'\nconsole.log('MAIL-WORKER-SIDE-EFFECT')\nexport default defineWorker('mail', async () => defu({ sent: true }, {}))\n`)
  // A third-party dependency of the worker, installed in the app as from npm.
  mkdirSync(join(root, 'node_modules'))
  symlinkSync(DEFU_DIR, join(root, 'node_modules/defu'))
  return root
}

async function nitroFor(rootDir: string, overrides: Record<string, unknown> = {}): Promise<Nitro> {
  const nitro = await createNitro({
    rootDir,
    srcDir: 'server',
    compatibilityDate: '2025-07-01',
    logLevel: 0,
    modules: [czo()],
    ...overrides,
  })
  cleanups.push(() => nitro.close())
  return nitro
}

describe('seedRuntimeConfig', () => {
  it('fills runtimeConfig.czo with the kit defaults, keeps values set in the config, never reads the env', () => {
    const previous = process.env.NITRO_CZO_REDIS_URL
    process.env.NITRO_CZO_REDIS_URL = 'redis://:build-machine-secret@10.0.0.1:6379'
    cleanups.push(() => {
      if (previous === undefined) delete process.env.NITRO_CZO_REDIS_URL
      else process.env.NITRO_CZO_REDIS_URL = previous
    })
    const nitro = { options: { runtimeConfig: { app: {}, czo: { redis: { prefix: 'shop' }, workers: { shutdownTimeout: 5000 } } } } } as unknown as Nitro
    const czoConfig = seedRuntimeConfig(nitro, { inline: true })
    expect(czoConfig).toEqual({
      // The URL stays empty so that REDIS_URL applies at runtime, as in the worker process.
      redis: { url: '', prefix: 'shop', queueTimeout: czoConfigDefaults.redis.queueTimeout },
      databaseUrl: '',
      workers: { inline: true, shutdownTimeout: 5000 },
    })
    expect(JSON.stringify(nitro.options.runtimeConfig)).not.toContain('secret')
    // The module's defaults object is not shared with (or mutated through) the app's config.
    expect(czoConfigDefaults.workers.inline).toBe(false)
  })
})

describe('writeKitRuntime', () => {
  it('writes @czo/kit and @czo/kit/runner as one module with bullmq and ioredis in it, usable with no other node_modules', async () => {
    const serverDir = tempDir()
    expect(await writeKitRuntime(serverDir)).toEqual(['package.json', 'dist/kit.mjs'])
    const manifest = JSON.parse(readFileSync(join(serverDir, 'node_modules/@czo/kit/package.json'), 'utf8'))
    expect(manifest).toMatchObject({ name: '@czo/kit', type: 'module', exports: { '.': './dist/kit.mjs', './runner': './dist/kit.mjs' } })
    const code = readFileSync(join(serverDir, 'node_modules/@czo/kit/dist/kit.mjs'), 'utf8')
    expect(code).not.toMatch(/from ['"](bullmq|ioredis)['"]/)
    // Nothing build-time: no esbuild, chokidar, citty or nitropack in the runtime.
    expect(code).not.toMatch(/from ['"](esbuild|chokidar|citty|nitropack[^'"]*)['"]/)
    writeFileSync(join(serverDir, 'check.mjs'), [
      `import * as kit from '@czo/kit'`,
      `import * as runner from '@czo/kit/runner'`,
      `console.log(JSON.stringify({ same: kit.useQueue === runner.useQueue, useQueue: typeof kit.useQueue, runWorkerProcess: typeof runner.runWorkerProcess, defineWorker: kit.defineWorker === runner.defineWorker }))`,
    ].join('\n'))
    const proc = spawnTracked(process.execPath, [join(serverDir, 'check.mjs')], { cwd: serverDir, env: { PATH: process.env.PATH } })
    expect(await proc.exited()).toBe(0)
    expect(JSON.parse(proc.output())).toEqual({ same: true, useQueue: 'function', runWorkerProcess: 'function', defineWorker: true })
  })

  it('replaces a copy of the kit that was there before', async () => {
    const serverDir = tempDir()
    mkdirSync(join(serverDir, 'node_modules/@czo/kit/dist/runtime'), { recursive: true })
    writeFileSync(join(serverDir, 'node_modules/@czo/kit/dist/runtime/index.js'), 'export const stale = true\n')
    await writeKitRuntime(serverDir)
    expect(files(join(serverDir, 'node_modules/@czo/kit')).sort()).toEqual(['dist/kit.mjs', 'package.json'])
  })
})

describe('the module in a Nitro build', () => {
  it('builds the workers next to the server, traces their dependencies, ships the kit, and keeps worker code out of the server', async () => {
    const root = writeApp()
    const nitro = await nitroFor(root)
    expect(nitro.options.plugins.some(plugin => /nitro[/\\]runtime[/\\]plugin\.(js|ts)$/.test(plugin))).toBe(true)
    expect(nitro.options.runtimeConfig.czo).toEqual(czoRuntimeConfigSeed)
    await prepare(nitro)
    await build(nitro)

    const server = join(root, '.output/server')
    const all = files(server)
    expect(all).toEqual(expect.arrayContaining([
      'index.mjs', 'workers/index.mjs', 'workers/_entry.mjs',
      'node_modules/@czo/kit/package.json', 'node_modules/@czo/kit/dist/kit.mjs',
      // What the worker imports is traced by Nitro.
      'node_modules/defu/package.json',
    ]))
    // bullmq and ioredis are in the kit's one file: the tracer does not copy them again.
    expect(all.filter(file => /^node_modules\/(bullmq|ioredis)\//.test(file))).toEqual([])
    const serverCode = all.filter(file => file.endsWith('.mjs') && !file.startsWith('workers/') && !file.startsWith('node_modules/'))
      .map(file => readFileSync(join(server, file), 'utf8')).join('\n')
    expect(serverCode).not.toContain('MAIL-WORKER-SIDE-EFFECT')
    expect(serverCode).toMatch(/from ['"]@czo\/kit['"]/)
    // Inline mode's only way to the workers: relative to the chunk, so the output can move.
    expect(serverCode).toMatch(/import\("\.\.\/(\.\.\/)*workers\/_entry\.mjs"\)/)
    expect(serverCode).not.toContain('#czo/workers')
    expect(serverCode).not.toContain(root)
    expect(readFileSync(join(server, 'workers/_entry.mjs'), 'utf8')).toContain('server/workers/mail.ts')
  })

  it('bakes runtimeConfig.czo from nitro.config into the worker process, under the env like the server', async () => {
    const root = writeApp()
    const prefix = `baked-${Date.now()}`
    const nitro = await nitroFor(root, { runtimeConfig: { czo: { redis: { prefix } } } })
    await prepare(nitro)
    await build(nitro)
    const redisUrl = inject('redisUrl')
    const port = Number(new URL(redisUrl).port)
    const proc = spawnTracked(process.execPath, [join(root, '.output/server/workers/index.mjs')], {
      cwd: root,
      env: { ...process.env, NITRO_CZO_REDIS_URL: redisUrl, NITRO_CZO_REDIS_PREFIX: '' },
    })
    try {
      await proc.waitFor('[czo] ready:')
      const clients = await rawCommand({ port }, ['CLIENT', 'LIST'])
      expect(clients).toContain(`name=${prefix}:${Buffer.from('mail').toString('base64')}`)
    }
    finally {
      expect(await proc.stop()).toBe(0)
    }
  })

  it('builds an app without workers, with a warning and no worker output', async () => {
    const root = writeApp()
    rmSync(join(root, 'server/workers'), { recursive: true })
    const nitro = await nitroFor(root)
    const warnings: string[] = []
    nitro.logger.warn = ((message: string) => void warnings.push(String(message))) as typeof nitro.logger.warn
    await prepare(nitro)
    await build(nitro)
    expect(existsSync(join(root, '.output/server/index.mjs'))).toBe(true)
    expect(existsSync(join(root, '.output/server/workers'))).toBe(false)
    expect(warnings.join('\n')).toContain('[czo] No workers folder at server/workers')
  })

  it('does not build workers for the prerenderer, nor in dev unless inline mode is on at start', async () => {
    const root = writeApp()
    const prerender = await nitroFor(root, { preset: 'nitro-prerender' })
    await prerender.hooks.callHook('build:before', prerender)
    expect(existsSync(join(prerender.options.output.dir, 'server/workers'))).toBe(false)

    const dev = await nitroFor(root, { dev: true })
    await dev.hooks.callHook('build:before', dev)
    expect(existsSync(join(dev.options.buildDir, 'czo/server/workers'))).toBe(false)

    const inline = await nitroFor(root, { dev: true, modules: [czo({ inline: true })] })
    await inline.hooks.callHook('build:before', inline)
    expect(existsSync(join(inline.options.buildDir, 'czo/server/workers/_entry.mjs'))).toBe(true)
  })

  it('refuses a preset whose server output is not <output>/server, naming the preset', async () => {
    await expect(nitroFor(writeApp(), { preset: 'vercel' })).rejects.toThrow(/preset "vercel" puts the server in .*Use a Node\.js preset/)
  })
})
