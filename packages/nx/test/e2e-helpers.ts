/**
 * Helpers for the end-to-end tests that drive the real `nx` binary.
 *
 * Every process started here goes through tools/test/processes.ts (own process group, stopped
 * by pid). Each nx run also carries a unique CZO_NX_E2E_TAG in its environment, which every
 * descendant inherits, so "nothing left behind" is checked on all of them, including the
 * worker process the kit starts in a process group of its own.
 */
import { execFileSync } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { spawnTracked, type Spawned } from '../../../tools/test/processes.ts'

export const repoRoot = fileURLToPath(new URL('../../..', import.meta.url))
export const nxBin = join(repoRoot, 'node_modules/nx/dist/bin/nx.js')

export interface NxEnvOptions {
  redisUrl: string
  /** Key prefix of this test's jobs. */
  prefix: string
  extra?: NodeJS.ProcessEnv
}

export interface NxRunner {
  tag: string
  env: NodeJS.ProcessEnv
  /** Starts `nx ...args` in `cwd` (own process group). */
  start(cwd: string, args: string[]): Spawned
  /** Runs `nx ...args` to completion; rejects after `timeoutMs`. */
  run(cwd: string, args: string[], timeoutMs?: number): Promise<{ code: number, output: string }>
  /** Pids of live processes carrying this runner's tag. */
  leftovers(): number[]
  cleanup(): void
}

export function nxRunner(options: NxEnvOptions): NxRunner {
  const tag = randomUUID()
  const scratch = mkdtempSync(join(tmpdir(), 'czo-nx-state-'))
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NX_DAEMON: 'false',
    NX_NO_CLOUD: 'true',
    NX_TUI: 'false',
    NX_SKIP_NX_CACHE: undefined,
    NX_CACHE_DIRECTORY: join(scratch, 'cache'),
    NX_WORKSPACE_DATA_DIRECTORY: join(scratch, 'workspace-data'),
    FORCE_COLOR: '0',
    NO_COLOR: '1',
    REDIS_URL: options.redisUrl,
    NITRO_CZO_REDIS_URL: options.redisUrl,
    NITRO_CZO_REDIS_PREFIX: options.prefix,
    CZO_NX_E2E_TAG: tag,
    ...options.extra,
  }
  for (const key of Object.keys(env)) {
    // Nothing of the test runner's own environment leaks into nx and the apps.
    if (env[key] === undefined || key.startsWith('VITEST') || key === 'NODE_OPTIONS' || key === 'NODE_ENV') delete env[key]
  }
  const start = (cwd: string, args: string[]) => spawnTracked(process.execPath, [nxBin, ...args], { cwd, env })
  return {
    tag,
    env,
    start,
    async run(cwd, args, timeoutMs = 180_000) {
      const proc = start(cwd, args)
      const timer = setTimeout(() => proc.stop(2000), timeoutMs)
      const code = await proc.exited()
      clearTimeout(timer)
      return { code, output: proc.output() }
    },
    leftovers: () => taggedPids(tag),
    cleanup: () => rmSync(scratch, { recursive: true, force: true }),
  }
}

/** Live processes whose environment contains CZO_NX_E2E_TAG=<tag> (Linux /proc). */
export function taggedPids(tag: string): number[] {
  const needle = `CZO_NX_E2E_TAG=${tag}`
  const pids: number[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const environ = readFileSync(`/proc/${entry}/environ`, 'utf8')
      if (!environ.split('\0').includes(needle)) continue
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      // Zombies have exited already; they only wait for their parent to reap them.
      if (/^\d+ \(.*\) Z /.test(stat)) continue
      pids.push(Number(entry))
    }
    catch {}
  }
  return pids
}

/** Describes pids for an assertion message. */
export function describePids(pids: number[]): string {
  return pids.map((pid) => {
    try {
      return `${pid}: ${readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ')}`
    }
    catch {
      return `${pid}: (gone)`
    }
  }).join('\n')
}

/** Waits until no process carries the tag; returns what is still alive after `timeoutMs`. */
export async function waitForNoLeftovers(runner: NxRunner, timeoutMs = 20_000): Promise<number[]> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const pids = runner.leftovers()
    if (pids.length === 0 || Date.now() > deadline) return pids
    await new Promise(resolve => setTimeout(resolve, 100))
  }
}

/** Kills whatever still carries the tag (cleanup after a failed assertion only). */
export function killLeftovers(runner: NxRunner): void {
  for (const pid of runner.leftovers()) {
    try {
      process.kill(pid, 'SIGKILL')
    }
    catch {}
  }
}

export async function until<T>(check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let lastError: unknown
  for (;;) {
    try {
      const value = await check()
      if (value) return value
    }
    catch (error) {
      lastError = error
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? ` (last error: ${(lastError as Error).message})` : ''}`)
    await new Promise(resolve => setTimeout(resolve, 100))
  }
}

const SKIP_COPY = new Set(['node_modules', '.output', '.nitro', '.czo', '.data', '.test-builds'])

/**
 * A copy of this workspace reduced to mazo and what its Nx targets need, in a temp folder:
 * a consumer workspace that installed @czo/nx as from npm (the package's `files`, with a
 * `dist` compiled for this fixture alone, so that no other build of packages/nx races it)
 * and @czo/kit; every other dependency is linked to this workspace's node_modules. The tests
 * can change and delete files there without touching the checkout others are working in.
 */
export function createFixtureWorkspace(): string {
  const root = mkdtempSync(join(tmpdir(), 'czo-nx-fixture-'))
  const repoModules = join(repoRoot, 'node_modules')
  const modules = join(root, 'node_modules')
  mkdirSync(join(modules, '@czo'), { recursive: true })
  for (const entry of readdirSync(repoModules)) {
    if (entry !== '@czo') symlinkSync(join(repoModules, entry), join(modules, entry))
  }
  symlinkSync(join(repoRoot, 'packages/kit'), join(modules, '@czo/kit'))
  installPlugin(join(modules, '@czo/nx'))

  writeFileSync(join(root, 'package.json'), `${JSON.stringify({ name: 'czo-nx-fixture', private: true, type: 'module' }, null, 2)}\n`)
  writeFileSync(join(root, '.gitignore'), 'node_modules/\n.output/\n.nitro/\n.czo/\n.nx/\n.data/\n')
  const nxJson = JSON.parse(readFileSync(join(repoRoot, 'nx.json'), 'utf8'))
  delete nxJson.$schema
  nxJson.plugins = nxJson.plugins.map((plugin: { plugin: string, options?: unknown }) =>
    plugin.plugin.includes('packages/nx') ? { ...plugin, plugin: '@czo/nx' } : plugin)
  writeFileSync(join(root, 'nx.json'), `${JSON.stringify(nxJson, null, 2)}\n`)
  cpSync(join(repoRoot, 'tsconfig.base.json'), join(root, 'tsconfig.base.json'))
  // The `redis` target's script and the helper it reuses.
  cpSync(join(repoRoot, 'tools/redis'), join(root, 'tools/redis'), { recursive: true })
  cpSync(join(repoRoot, 'apps/mazo'), join(root, 'apps/mazo'), {
    recursive: true,
    filter: source => !SKIP_COPY.has(source.split(/[\\/]/).pop() ?? ''),
  })
  symlinkSync(join(repoRoot, 'apps/mazo/node_modules'), join(root, 'apps/mazo/node_modules'))
  return root
}

/** Lays out @czo/nx as npm would install it: its `files` and a freshly compiled dist. */
function installPlugin(target: string): void {
  const source = join(repoRoot, 'packages/nx')
  const manifest = JSON.parse(readFileSync(join(source, 'package.json'), 'utf8')) as { files: string[] }
  mkdirSync(target, { recursive: true })
  cpSync(join(source, 'package.json'), join(target, 'package.json'))
  for (const pattern of manifest.files) {
    if (pattern === 'dist') continue
    const match = /^(.*)\/\*\/([^/*]+)$/.exec(pattern)
    if (match) {
      for (const dir of readdirSync(join(source, match[1]!))) {
        const file = join(match[1]!, dir, match[2]!)
        if (existsSync(join(source, file))) cpSync(join(source, file), join(target, file))
      }
    }
    else {
      cpSync(join(source, pattern), join(target, pattern), { recursive: true })
    }
  }
  execFileSync(process.execPath, [join(repoRoot, 'node_modules/typescript/bin/tsc'), '-p', join(source, 'tsconfig.build.json'), '--outDir', join(target, 'dist')], { cwd: source, stdio: 'pipe' })
}

export function listFiles(dir: string): Record<string, string> {
  const files: Record<string, string> = {}
  const walk = (current: string) => {
    for (const entry of readdirSync(current, { withFileTypes: true })) {
      const path = join(current, entry.name)
      if (entry.isDirectory()) walk(path)
      else files[path.slice(dir.length + 1)] = readFileSync(path, 'base64')
    }
  }
  walk(dir)
  return files
}
