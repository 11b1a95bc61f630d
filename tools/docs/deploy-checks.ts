/**
 * Checks for the config files the docs give for external systems (systemd, PM2, Kubernetes):
 * they cannot be run here, so they are parsed and held to what the worker process needs.
 * - the worker command is the built `.output/server/workers/index.mjs`, with flags the real
 *   parser accepts (`parseWorkerProcessArgs` of @czo/kit, so an unknown flag fails);
 * - the time the system waits after SIGTERM before SIGKILL is above the worker process's
 *   shutdown deadline (`--shutdown-timeout`, `CZO_SHUTDOWN_TIMEOUT`,
 *   `NITRO_CZO_WORKERS_SHUTDOWN_TIMEOUT`, else the kit's default), so a graceful stop is never cut;
 * - the API command is the built `.output/server/index.mjs`.
 */
import { existsSync, readdirSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { resolveCzoConfig } from '@czo/kit'
import { parseWorkerProcessArgs } from '@czo/kit/runner'

const WORKER_ENTRY = '.output/server/workers/index.mjs'
const API_ENTRY = '.output/server/index.mjs'

export interface ProcessSpec {
  /** Where it was found, for messages. */
  where: string
  /** The script (path ending in index.mjs) and its arguments. */
  script: string
  args: string[]
  env: Record<string, string>
  /** How long the system waits between the stop signal and SIGKILL (ms). */
  graceMs: number
  /** The stop signal the system sends. */
  signal: string
}

/** The shutdown deadline the worker process will use for these flags and env (ms). Throws on a bad flag. */
export function effectiveDeadline(args: readonly string[], env: Record<string, string>): number {
  const parsed = parseWorkerProcessArgs(args, env)
  return parsed.shutdownTimeout ?? resolveCzoConfig(env).workers.shutdownTimeout
}

/** Checks one process of a deployment file against the built app in `appDir`; returns problems. */
export function checkProcess(spec: ProcessSpec, appDir: string): string[] {
  const problems: string[] = []
  const isWorker = spec.script.endsWith(WORKER_ENTRY)
  const isApi = !isWorker && spec.script.endsWith(API_ENTRY)
  if (!isWorker && !isApi) return [`${spec.where}: runs ${spec.script}, which is neither ${API_ENTRY} nor ${WORKER_ENTRY}`]
  const entry = isWorker ? WORKER_ENTRY : API_ENTRY
  if (!existsSync(join(appDir, entry))) problems.push(`${spec.where}: ${entry} was not built in the doc's app (build it earlier on the page)`)
  if (!['SIGTERM', 'SIGINT'].includes(spec.signal)) problems.push(`${spec.where}: stop signal ${spec.signal}; the processes stop gracefully on SIGTERM or SIGINT`)
  if (isWorker) {
    let deadline: number
    try {
      deadline = effectiveDeadline(spec.args, spec.env)
    }
    catch (error) {
      return [...problems, `${spec.where}: ${(error as Error).message}`]
    }
    if (!(spec.graceMs > deadline)) {
      problems.push(`${spec.where}: waits ${spec.graceMs} ms before SIGKILL, not more than the worker process's shutdown deadline of ${deadline} ms`)
    }
  }
  return problems
}

function splitWords(line: string): string[] {
  return [...line.matchAll(/"([^"]*)"|'([^']*)'|(\S+)/g)].map(m => m[1] ?? m[2] ?? m[3]!)
}

/** Seconds in systemd's time syntax (`30`, `30s`, `1min 30s`, `500ms`) to ms. */
export function systemdTimeMs(value: string): number {
  let total = 0
  const units: Record<string, number> = { ms: 1, s: 1000, sec: 1000, m: 60_000, min: 60_000, h: 3_600_000 }
  const parts = [...value.trim().matchAll(/(\d+(?:\.\d+)?)\s*([a-z]*)/g)]
  if (parts.length === 0) return Number.NaN
  for (const [, number, unit] of parts) {
    const factor = unit === '' ? 1000 : units[unit!]
    if (factor === undefined) return Number.NaN
    total += Number(number) * factor
  }
  return total
}

/** A systemd unit: `[Service]` with `ExecStart`, `Environment`, `TimeoutStopSec`, `KillSignal`. */
export function parseSystemdUnit(text: string, where: string): { spec?: ProcessSpec, problems: string[] } {
  const sections = new Map<string, Array<[string, string]>>()
  let current = ''
  const problems: string[] = []
  text.split('\n').forEach((raw, index) => {
    const line = raw.trim()
    if (line === '' || line.startsWith('#') || line.startsWith(';')) return
    const section = /^\[(\w+)\]$/.exec(line)
    if (section) {
      current = section[1]!
      sections.set(current, sections.get(current) ?? [])
      return
    }
    const pair = /^(\w+)=(.*)$/.exec(line)
    if (!pair || current === '') {
      problems.push(`${where}:${index + 1}: not a "Key=Value" line in a section: ${line}`)
      return
    }
    sections.get(current)!.push([pair[1]!, pair[2]!])
  })
  for (const required of ['Unit', 'Service', 'Install']) {
    if (!sections.has(required)) problems.push(`${where}: no [${required}] section`)
  }
  const service = sections.get('Service') ?? []
  const get = (key: string) => service.filter(([k]) => k === key).map(([, v]) => v)
  const exec = get('ExecStart')
  if (exec.length !== 1) return { problems: [...problems, `${where}: expected one ExecStart, found ${exec.length}`] }
  const words = splitWords(exec[0]!)
  if (!words[0]!.startsWith('/')) problems.push(`${where}: ExecStart must start with an absolute path, got ${words[0]}`)
  if (!/node$/.test(words[0]!)) problems.push(`${where}: ExecStart should run node, got ${words[0]}`)
  const env: Record<string, string> = {}
  for (const value of get('Environment')) {
    for (const assignment of splitWords(value)) {
      const eq = assignment.indexOf('=')
      if (eq > 0) env[assignment.slice(0, eq)] = assignment.slice(eq + 1)
    }
  }
  const timeout = get('TimeoutStopSec').at(-1)
  const graceMs = timeout === undefined ? 90_000 : systemdTimeMs(timeout)
  if (Number.isNaN(graceMs)) problems.push(`${where}: TimeoutStopSec=${timeout} is not a systemd time span`)
  const workingDirectory = get('WorkingDirectory').at(-1)
  const script = words[1] ?? ''
  const resolved = script.startsWith('/') || workingDirectory === undefined ? script : `${workingDirectory}/${script}`
  return {
    problems,
    spec: { where, script: resolved, args: words.slice(2), env, graceMs, signal: get('KillSignal').at(-1) ?? 'SIGTERM' },
  }
}

/** A PM2 ecosystem file (CommonJS): every app. */
export function parsePm2Ecosystem(path: string, where: string): { specs: ProcessSpec[], problems: string[] } {
  const require = createRequire(import.meta.url)
  delete require.cache[path]
  const config = require(path) as { apps?: Array<Record<string, unknown>> }
  const problems: string[] = []
  if (!Array.isArray(config.apps) || config.apps.length === 0) return { specs: [], problems: [`${where}: no apps`] }
  const specs = config.apps.map((app, index): ProcessSpec => {
    const name = typeof app.name === 'string' ? app.name : `apps[${index}]`
    if (typeof app.script !== 'string') problems.push(`${where} ${name}: no script`)
    if (app.exec_mode !== undefined && app.exec_mode !== 'fork' && String(app.script).endsWith(WORKER_ENTRY)) {
      problems.push(`${where} ${name}: the worker process runs in fork mode (several processes: instances)`)
    }
    const args = typeof app.args === 'string' ? splitWords(app.args) : Array.isArray(app.args) ? app.args.map(String) : []
    const env = Object.fromEntries(Object.entries((app.env ?? {}) as Record<string, unknown>).map(([k, v]) => [k, String(v)]))
    return {
      where: `${where} ${name}`,
      script: typeof app.cwd === 'string' && !String(app.script).startsWith('/') ? `${app.cwd}/${app.script}` : String(app.script),
      args,
      env,
      // PM2's defaults: SIGINT, then SIGKILL after 1600 ms.
      graceMs: typeof app.kill_timeout === 'number' ? app.kill_timeout : 1600,
      signal: typeof app.kill_signal === 'string' ? app.kill_signal : 'SIGINT',
    }
  })
  return { specs, problems }
}

/** The yaml package (present in the workspace as a dependency of the tool chain), or undefined. */
function loadYaml(): { parseAllDocuments(text: string): Array<{ errors: unknown[], toJS(): unknown }> } | undefined {
  const store = fileURLToPath(new URL('../../node_modules/.pnpm', import.meta.url))
  const dir = existsSync(store) ? readdirSync(store).find(name => /^yaml@2\./.test(name)) : undefined
  if (!dir) return undefined
  return createRequire(import.meta.url)(join(store, dir, 'node_modules/yaml'))
}

interface Container { name?: string, command?: string[], args?: string[], env?: Array<{ name: string, value?: string }> }

/** Kubernetes manifests: every container of every Deployment. */
export function parseKubernetes(text: string, where: string): { specs: ProcessSpec[], problems: string[], parser: string } {
  const yaml = loadYaml()
  if (!yaml) {
    // Without a YAML parser, the key line at least: a grace period above the default deadline.
    const grace = [...text.matchAll(/terminationGracePeriodSeconds:\s*(\d+)/g)].map(m => Number(m[1]) * 1000)
    const problems = grace.length === 0 || grace.some(ms => ms <= 25_000) ? [`${where}: terminationGracePeriodSeconds missing or not above 25 s`] : []
    return { specs: [], problems, parser: 'key lines' }
  }
  const problems: string[] = []
  const specs: ProcessSpec[] = []
  const documents = yaml.parseAllDocuments(text)
  documents.forEach((document, index) => {
    if (document.errors.length > 0) {
      problems.push(`${where} document ${index + 1}: ${String(document.errors[0])}`)
      return
    }
    const object = document.toJS() as { kind?: string, metadata?: { name?: string }, spec?: any } | null
    if (!object || object.kind !== 'Deployment') return
    const pod = object.spec?.template?.spec
    if (!pod || !Array.isArray(pod.containers)) {
      problems.push(`${where} ${object.metadata?.name}: no spec.template.spec.containers`)
      return
    }
    const labels = object.spec?.template?.metadata?.labels ?? {}
    const selector = object.spec?.selector?.matchLabels ?? {}
    for (const [key, value] of Object.entries(selector)) {
      if (labels[key] !== value) problems.push(`${where} ${object.metadata?.name}: selector ${key}=${String(value)} does not match the pod labels`)
    }
    for (const container of pod.containers as Container[]) {
      const words = [...(container.command ?? []), ...(container.args ?? [])]
      const at = words.findIndex(word => word.endsWith('index.mjs'))
      if (at === -1) {
        problems.push(`${where} ${object.metadata?.name}/${container.name}: no command ending in index.mjs`)
        continue
      }
      const env = Object.fromEntries((container.env ?? []).filter(e => e.value !== undefined).map(e => [e.name, String(e.value)]))
      specs.push({
        where: `${where} ${object.metadata?.name}/${container.name}`,
        script: words[at]!,
        args: words.slice(at + 1),
        env,
        graceMs: (pod.terminationGracePeriodSeconds ?? 30) * 1000,
        signal: 'SIGTERM',
      })
    }
  })
  return { specs, problems, parser: 'yaml' }
}
