/**
 * The docs cannot drift from the code: every page of docs/ is run as written.
 *
 * Convention (also at the top of docs/README.md): every fenced block has a role in its info
 * string. `file=PATH` blocks are written into the page's sandbox app; `test` blocks are run
 * there with bash (`exit=N` expected code, `retry=S` re-run for up to S seconds, `background`
 * processes with `name=` and `ready="text"`); `output` blocks list lines that must appear in
 * the output of the command before them (or of the background process `from=NAME`), `…` being
 * any text; `external` blocks hold other systems' commands only (systemctl, kubectl, pm2,
 * package installs); `fragment` and `diagram` blocks are parts of code and pictures. HTML
 * comments `<!-- test: ... -->` are directives: `stop NAME exit=N`, `sandbox app|nx|none`,
 * `env KEY=VALUE`. Deployment files (`*.service`, `ecosystem.config.cjs`, `*.yaml`) are parsed
 * and checked (tools/docs/deploy-checks.ts); TypeScript files are type-checked with tsc.
 *
 * Commands run against the test run's Redis (REDIS_URL, with a key prefix of their own);
 * `redis://127.0.0.1:6379` in a command means that Redis and `localhost:3000` a free port.
 */
import { randomUUID } from 'node:crypto'
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { afterAll, describe, expect, inject, it } from 'vitest'
import { ExitCode, WORKER_PROCESS_HELP } from '@czo/kit/runner'
import { main } from '@czo/kit/cli'
import { spawnTracked, type Spawned } from '../test/processes.ts'
import { freePort } from '../test/redis-server.ts'
import { checkProcess, parseKubernetes, parsePm2Ecosystem, parseSystemdUnit, type ProcessSpec } from './deploy-checks.ts'
import { checkExternal, lineMatcher, readMarkdown, roleOf, stripAnsi, type CodeBlock, type Item } from './markdown.ts'
import { createAppSandbox, createNxSandbox, REPO_ROOT, TSC_BIN, type Sandbox } from './sandbox.ts'

const DOCS_DIR = join(REPO_ROOT, 'docs')
const PAGES = readdirSync(DOCS_DIR).filter(name => name.endsWith('.md')).sort()
const ONLY = process.env.DOCS_PAGE

const cleanups: Array<() => Promise<void> | void> = []
afterAll(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

function at(page: string, line: number): string {
  return `docs/${page}:${line}`
}

/** The lines of an output block that must each appear. */
function expectedLines(block: CodeBlock): string[] {
  return block.code.split('\n').map(line => line.trim()).filter(line => line !== '')
}

function missingLines(output: string, lines: string[]): string[] {
  const clean = stripAnsi(output)
  return lines.filter(line => !lineMatcher(line).test(clean))
}

// ---------------------------------------------------------------------------------------------
// Static checks: every block has a role, links resolve, names in the docs exist in the code.
// ---------------------------------------------------------------------------------------------

function slug(heading: string): string {
  return heading.trim().toLowerCase().replace(/`/g, '').replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-')
}

function anchorsOf(text: string): Set<string> {
  const anchors = new Set<string>()
  let inFence = false
  for (const line of text.split('\n')) {
    if (/^\s*(`{3,}|~{3,})/.test(line)) inFence = !inFence
    const heading = !inFence && /^#{1,6}\s+(.*)$/.exec(line)
    if (heading) anchors.add(slug(heading[1]!))
  }
  return anchors
}

/** Every source file under a folder, concatenated: where names mentioned in the docs must exist. */
function sourceText(...dirs: string[]): string {
  let text = ''
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name)
      if (entry.isDirectory()) {
        if (entry.name !== 'node_modules' && entry.name !== 'dist' && entry.name !== 'test') walk(path)
      }
      else if (/\.(?:ts|mjs|json)$/.test(entry.name)) text += readFileSync(path, 'utf8')
    }
  }
  for (const dir of dirs) walk(join(REPO_ROOT, dir))
  return text
}

describe('docs: static checks', () => {
  it('has the pages the issue asks for', () => {
    for (const page of ['README.md', 'getting-started.md', 'api.md', 'cli.md', 'nx.md', 'configuration.md', 'deployment.md', 'troubleshooting.md', 'migration.md']) {
      expect(PAGES, `docs/${page}`).toContain(page)
    }
  })

  it('gives every code block a role, and external blocks hold other systems\' commands only', () => {
    const problems: string[] = []
    for (const page of PAGES) {
      const items = readMarkdown(join(DOCS_DIR, page))
      items.forEach((item, index) => {
        if (item.kind !== 'code') return
        const role = roleOf(item)
        if (role === undefined) problems.push(`${at(page, item.line)}: \`\`\`${item.lang} block has no role (file=, test, output, external, fragment, diagram)`)
        if (role === 'external') problems.push(...checkExternal(item).map(p => `${at(page, item.line)}: ${p}`))
        if (role === 'fragment' && ['sh', 'bash', 'shell', 'console'].includes(item.lang)) problems.push(`${at(page, item.line)}: a shell block is a command: mark it \`test\` or \`external\``)
        if (role === 'output' && !item.attrs.values.has('from')) {
          // The output of the command before, or of the background process a `stop` just ended.
          const previous = items.slice(0, index).reverse().find(other => other.kind === 'code' || other.name === 'stop')
          const ok = previous !== undefined && (previous.kind === 'directive' || roleOf(previous) === 'command')
          if (!ok) problems.push(`${at(page, item.line)}: an output block without from= must follow a test block or a stop directive`)
        }
      })
    }
    expect(problems).toEqual([])
  })

  it('has no broken links between pages', () => {
    const problems: string[] = []
    for (const page of PAGES) {
      const text = readFileSync(join(DOCS_DIR, page), 'utf8')
      for (const match of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        const target = match[1]!
        if (/^[a-z]+:/.test(target)) continue
        const [file, anchor] = target.split('#') as [string, string | undefined]
        const path = file === '' ? join(DOCS_DIR, page) : join(DOCS_DIR, file)
        if (!existsSync(path)) {
          problems.push(`docs/${page}: link to ${target}: no such file`)
          continue
        }
        if (anchor && path.endsWith('.md') && !anchorsOf(readFileSync(path, 'utf8')).has(anchor)) {
          problems.push(`docs/${page}: link to ${target}: no heading with that anchor`)
        }
      }
    }
    expect(problems).toEqual([])
  })

  it('names only environment variables that the code reads', () => {
    const source = sourceText('packages/kit/src', 'packages/nx/src', 'tools/redis', 'apps/mazo/server')
    const problems: string[] = []
    for (const page of PAGES) {
      const text = readFileSync(join(DOCS_DIR, page), 'utf8')
      for (const name of new Set(text.match(/\b(?:NITRO_CZO|CZO)_[A-Z0-9_]*[A-Z0-9]\b/g) ?? [])) {
        if (!source.includes(name)) problems.push(`docs/${page}: ${name} is not read anywhere in the code`)
      }
    }
    expect(problems).toEqual([])
  })

  it('documents every NITRO_CZO_* variable in configuration.md and every flag and exit code in cli.md', async () => {
    const config = readFileSync(join(REPO_ROOT, 'packages/kit/src/runtime/config.ts'), 'utf8')
    const configuration = readFileSync(join(DOCS_DIR, 'configuration.md'), 'utf8')
    for (const name of new Set(config.match(/'(?:NITRO_CZO_\w+|REDIS_URL|DATABASE_URL)'/g)!.map(n => n.slice(1, -1)))) {
      expect(configuration, `configuration.md documents ${name}`).toContain(name)
    }
    const cli = readFileSync(join(DOCS_DIR, 'cli.md'), 'utf8')
    const subCommands = main.subCommands as Record<string, () => Promise<{ args?: Record<string, unknown> }>>
    for (const [name, load] of Object.entries(subCommands)) {
      expect(cli, `cli.md documents czo ${name}`).toContain(`czo ${name}`)
      const command = await load()
      for (const flag of Object.keys(command.args ?? {})) expect(cli, `cli.md documents ${name} --${flag}`).toContain(`--${flag}`)
    }
    for (const flag of WORKER_PROCESS_HELP.match(/--[a-z-]+/g)!) expect(cli, `cli.md documents index.mjs ${flag}`).toContain(flag)
    for (const variable of WORKER_PROCESS_HELP.match(/\b[A-Z][A-Z0-9_]{3,}\b/g)!) expect(cli, `cli.md documents ${variable}`).toContain(variable)
    const rows = [...cli.matchAll(/^\|\s*`?(\d+)`?\s*\|/gm)].map(m => Number(m[1]))
    expect(new Set(rows), 'cli.md has one exit-code table row per ExitCode').toEqual(new Set(Object.values(ExitCode)))
  })
})

// ---------------------------------------------------------------------------------------------
// Running the pages.
// ---------------------------------------------------------------------------------------------

interface PageRun {
  page: string
  sandbox: Sandbox
  env: NodeJS.ProcessEnv
  port: number
  redisUrl: string
  background: Map<string, Spawned>
  /** Output of the last foreground command, or the last started background process. */
  last?: { output: () => string, background?: Spawned }
  deployFiles: Array<{ path: string, block: CodeBlock }>
  tsFiles: string[]
  log: string[]
}

function substitute(run: PageRun, text: string): string {
  return text
    .replaceAll('redis://127.0.0.1:6379', run.redisUrl)
    .replaceAll('localhost:3000', `127.0.0.1:${run.port}`)
}

function commandLines(code: string): string[] {
  return code.split('\n').map(line => line.trim()).filter(line => line !== '' && !line.startsWith('#'))
}

async function runForeground(run: PageRun, block: CodeBlock, next: CodeBlock | undefined): Promise<void> {
  const where = at(run.page, block.line)
  const expectedExit = Number(block.attrs.values.get('exit') ?? '0')
  const timeoutMs = Number(block.attrs.values.get('timeout') ?? '90') * 1000
  const retryUntil = Date.now() + Number(block.attrs.values.get('retry') ?? '0') * 1000
  const lines = next ? expectedLines(next) : []
  const script = substitute(run, block.code)
  for (;;) {
    const proc = spawnTracked('bash', ['-eo', 'pipefail', '-c', script], { cwd: run.sandbox.dir, env: run.env })
    const timer = setTimeout(() => void proc.stop(2000), timeoutMs)
    const code = await proc.exited()
    clearTimeout(timer)
    const output = proc.output()
    const missing = missingLines(output, lines)
    run.last = { output: () => output }
    run.log.push(`$ ${script.trim()}\n${output}(exit ${code})`)
    if (code === expectedExit && missing.length === 0) return
    if (Date.now() < retryUntil) {
      await new Promise(resolve => setTimeout(resolve, 300))
      continue
    }
    expect.fail(`${where}: \`${script.trim()}\` exited ${code} (expected ${expectedExit})${missing.length ? `; missing output lines:\n  ${missing.join('\n  ')}` : ''}\n--- output ---\n${output}`)
  }
}

async function startBackground(run: PageRun, block: CodeBlock): Promise<void> {
  const where = at(run.page, block.line)
  const lines = commandLines(block.code)
  expect(lines.length, `${where}: a background block holds one command`).toBe(1)
  const name = block.attrs.values.get('name') ?? 'default'
  expect(run.background.has(name), `${where}: background process "${name}" is already running`).toBe(false)
  const command = substitute(run, lines[0]!)
  // exec: the process itself (not a shell around it) gets the stop signal; `env` for `A=1 cmd`.
  const exec = /^[A-Za-z_]\w*=/.test(command) ? `exec env ${command}` : `exec ${command}`
  const proc = spawnTracked('bash', ['-c', exec], { cwd: run.sandbox.dir, env: run.env })
  cleanups.push(() => proc.stop(5000).then(() => undefined))
  run.background.set(name, proc)
  run.last = { output: () => proc.output(), background: proc }
  run.log.push(`$ ${command} &  # ${name}`)
  const ready = block.attrs.values.get('ready')
  if (ready !== undefined) {
    try {
      await proc.waitFor(ready, Number(block.attrs.values.get('timeout') ?? '90') * 1000)
    }
    catch (error) {
      expect.fail(`${where}: \`${command}\` never printed "${ready}": ${(error as Error).message}`)
    }
  }
}

async function waitForLines(where: string, proc: Spawned, lines: string[], timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const missing = missingLines(proc.output(), lines)
    if (missing.length === 0) return
    if (Date.now() > deadline) expect.fail(`${where}: missing output lines:\n  ${missing.join('\n  ')}\n--- output ---\n${stripAnsi(proc.output())}`)
    if (proc.child.exitCode !== null || proc.child.signalCode !== null) {
      // Its last output may still be in the pipe: read it before judging.
      await proc.exited()
      if (missingLines(proc.output(), lines).length === 0) return
      expect.fail(`${where}: the process exited; missing output lines:\n  ${missing.join('\n  ')}\n--- output ---\n${stripAnsi(proc.output())}`)
    }
    await new Promise(resolve => setTimeout(resolve, 100))
  }
}

async function stopBackground(run: PageRun, name: string, expectedExit: number, where: string, signal: NodeJS.Signals): Promise<void> {
  const proc = run.background.get(name)
  expect(proc, `${where}: no background process "${name}"`).toBeDefined()
  run.background.delete(name)
  proc!.child.kill(signal)
  const timer = setTimeout(() => void proc!.stop(1000), 60_000)
  const code = await proc!.exited()
  clearTimeout(timer)
  await proc!.stop(1000)
  run.last = { output: () => proc!.output() }
  expect(code, `${where}: "${name}" exited ${code} after ${signal}, expected ${expectedExit}\n--- output ---\n${stripAnsi(proc!.output())}`).toBe(expectedExit)
}

function writeFile(run: PageRun, block: CodeBlock): void {
  const path = block.attrs.values.get('file')!
  const full = join(run.sandbox.dir, path)
  mkdirSync(dirname(full), { recursive: true })
  writeFileSync(full, block.code)
  if (/\.service$|ecosystem\.config\.cjs$|\.ya?ml$/.test(path)) run.deployFiles.push({ path, block })
  if (/\.(?:ts|mts)$/.test(path) && !path.endsWith('.d.ts') && !run.tsFiles.includes(path)) run.tsFiles.push(path)
  if (path.endsWith('.d.ts') && !run.tsFiles.includes(path)) run.tsFiles.push(path)
  if (path.endsWith('.json')) JSON.parse(block.code)
}

function checkDeployFiles(run: PageRun): string[] {
  const problems: string[] = []
  const specs: ProcessSpec[] = []
  for (const { path, block } of run.deployFiles) {
    const where = `${at(run.page, block.line)} (${path})`
    if (path.endsWith('.service')) {
      const unit = parseSystemdUnit(block.code, where)
      problems.push(...unit.problems)
      if (unit.spec) specs.push(unit.spec)
    }
    else if (path.endsWith('ecosystem.config.cjs')) {
      const pm2 = parsePm2Ecosystem(join(run.sandbox.dir, path), where)
      problems.push(...pm2.problems)
      specs.push(...pm2.specs)
    }
    else {
      const k8s = parseKubernetes(block.code, where)
      problems.push(...k8s.problems)
      if (k8s.parser === 'yaml' && k8s.specs.length === 0) problems.push(`${where}: no Deployment container runs an index.mjs`)
      specs.push(...k8s.specs)
    }
  }
  if (run.deployFiles.length > 0 && specs.length === 0) problems.push(`docs/${run.page}: deployment files, but no process found in them`)
  for (const spec of specs) problems.push(...checkProcess(spec, run.sandbox.dir))
  return problems
}

async function typecheck(run: PageRun): Promise<void> {
  if (run.tsFiles.length === 0) return
  const nitroTypes = join(run.sandbox.dir, '.nitro/types/tsconfig.json')
  const config = existsSync(nitroTypes)
    ? { extends: './.nitro/types/tsconfig.json', compilerOptions: { strict: true, noEmit: true, skipLibCheck: true, typeRoots: [join(REPO_ROOT, 'node_modules/@types')], types: ['node'] }, include: ['./.nitro/types/nitro.d.ts', ...run.tsFiles] }
    : { compilerOptions: { strict: true, noEmit: true, skipLibCheck: true, target: 'ES2022', module: 'ESNext', moduleResolution: 'Bundler', typeRoots: [join(REPO_ROOT, 'node_modules/@types')], types: ['node'] }, include: run.tsFiles }
  writeFileSync(join(run.sandbox.dir, 'tsconfig.docs-test.json'), JSON.stringify(config, null, 2))
  const tsc = spawnTracked(process.execPath, [TSC_BIN, '-p', 'tsconfig.docs-test.json'], { cwd: run.sandbox.dir, env: run.env })
  const code = await tsc.exited()
  expect(code, `docs/${run.page}: the TypeScript files do not type-check:\n${tsc.output()}`).toBe(0)
}

async function runPage(page: string, items: Item[]): Promise<void> {
  const sandboxKind = (items.find(item => item.kind === 'directive' && item.name === 'sandbox') as { args: { words: Set<string> } } | undefined)?.args.words
  const kind = sandboxKind?.has('nx') ? 'nx' : sandboxKind?.has('none') ? 'none' : 'app'
  if (kind === 'none') return
  const sandbox = kind === 'nx' ? await createNxSandbox() : createAppSandbox()
  cleanups.push(() => sandbox.remove())
  const redisUrl = inject('redisUrl')
  const scratch = join(dirname(sandbox.dir), '.docs-state')
  const env: NodeJS.ProcessEnv = {
    PATH: `${sandbox.binDir}:${process.env.PATH}`,
    HOME: process.env.HOME,
    LANG: 'C.UTF-8',
    REDIS_URL: redisUrl,
    NITRO_CZO_REDIS_PREFIX: `docs-${randomUUID().slice(0, 8)}`,
    HOST: '127.0.0.1',
    NO_COLOR: '1',
    FORCE_COLOR: '0',
    NX_DAEMON: 'false',
    NX_NO_CLOUD: 'true',
    NX_TUI: 'false',
    NX_CACHE_DIRECTORY: join(scratch, 'nx-cache'),
    NX_WORKSPACE_DATA_DIRECTORY: join(scratch, 'nx-data'),
  }
  const run: PageRun = { page, sandbox, env, port: await freePort(), redisUrl, background: new Map(), deployFiles: [], tsFiles: [], log: [] }
  env.PORT = String(run.port)
  try {
    for (let index = 0; index < items.length; index++) {
      const item = items[index]!
      if (item.kind === 'directive') {
        const where = at(page, item.line)
        if (item.name === 'stop') {
          for (const name of item.args.words) await stopBackground(run, name, Number(item.args.values.get('exit') ?? '0'), where, (item.args.values.get('signal') ?? 'SIGTERM') as NodeJS.Signals)
        }
        else if (item.name === 'env') {
          for (const [key, value] of item.args.values) env[key] = value
          for (const key of item.args.words) delete env[key]
        }
        else if (item.name !== 'sandbox') expect.fail(`${where}: unknown directive "${item.name}"`)
        continue
      }
      const role = roleOf(item)
      if (role === 'file') writeFile(run, item)
      else if (role === 'command') {
        if (item.attrs.words.has('background')) await startBackground(run, item)
        else {
          const next = items[index + 1]
          const output = next?.kind === 'code' && roleOf(next) === 'output' && !next.attrs.values.has('from') ? next : undefined
          await runForeground(run, item, output)
          if (output) index++
        }
      }
      else if (role === 'output') {
        const where = at(page, item.line)
        const from = item.attrs.values.get('from')
        const proc = from !== undefined ? run.background.get(from) : run.last?.background
        if (proc) await waitForLines(where, proc, expectedLines(item))
        else {
          const missing = missingLines(run.last?.output() ?? '', expectedLines(item))
          expect(missing, `${where}: missing output lines`).toEqual([])
        }
      }
    }
    expect([...run.background.keys()], `docs/${page}: background processes never stopped with <!-- test: stop NAME -->`).toEqual([])
    expect(checkDeployFiles(run)).toEqual([])
    await typecheck(run)
  }
  finally {
    for (const proc of run.background.values()) await proc.stop(3000)
  }
}

// Pages are independent (own sandbox, port and key prefix): they run side by side.
describe.concurrent('docs: every page runs as written', () => {
  for (const page of PAGES) {
    if (ONLY !== undefined && !ONLY.split(',').includes(page)) continue
    it(page, async () => {
      await runPage(page, readMarkdown(join(DOCS_DIR, page)))
    }, 240_000)
  }
})
