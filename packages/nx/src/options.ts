/**
 * Maps executor options (from project.json, inferred targets and `nx run ... --flag` overrides)
 * onto the kit's option objects. Validation here only exists to name the offending option;
 * everything else is the kit's job.
 */
import { isAbsolute, resolve } from 'node:path'
import type { ExecutorContext } from '@nx/devkit'
import type { BuildWorkersOptions, WorkerProcessOptions } from './kit'

export interface LayoutExecutorOptions {
  /** The app root, relative to the workspace root. Default: the project's root. */
  rootDir?: string
  /** Worker folder, relative to the app root. Default (the kit's): `server/workers`. */
  workersDir?: string
  /** Build output folder, relative to the app root. Default (the kit's): `.output`. */
  outputDir?: string
}

export interface BuildExecutorOptions extends LayoutExecutorOptions {
  bundleDependencies?: boolean
  sourcemap?: boolean
  minify?: boolean
}

export interface ProcessExecutorOptions extends LayoutExecutorOptions {
  /** Worker names to run; an array, or a comma-separated string from the command line. */
  workers?: string[] | string
  /** Upper bound of a graceful shutdown, in milliseconds. */
  shutdownTimeout?: number | string
  /** Extra environment variables for the worker process. */
  env?: Record<string, string>
}

export class ExecutorOptionError extends Error {
  override name = 'ExecutorOptionError'
  constructor(readonly executor: string, readonly option: string, message: string) {
    super(`${executor}: invalid option "${option}": ${message}`)
  }
}

function describe(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value)
  }
  catch {
    return String(value)
  }
}

function optionalPath(executor: string, option: string, value: unknown): string | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'string' || value.trim() === '') {
    throw new ExecutorOptionError(executor, option, `expected a non-empty path, got ${describe(value)}`)
  }
  return value
}

function optionalBoolean(executor: string, option: string, value: unknown): boolean | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'boolean') {
    throw new ExecutorOptionError(executor, option, `expected true or false, got ${describe(value)}`)
  }
  return value
}

export function resolveRootDir(executor: string, options: LayoutExecutorOptions, context: ExecutorContext): string {
  const rootDir = optionalPath(executor, 'rootDir', options.rootDir)
  if (rootDir !== undefined) return isAbsolute(rootDir) ? rootDir : resolve(context.root, rootDir)
  const projectName = context.projectName
  const project = projectName ? context.projectsConfigurations?.projects?.[projectName] : undefined
  if (!project) {
    throw new ExecutorOptionError(executor, 'rootDir', `no project in the executor context (project "${projectName ?? ''}") and no rootDir given`)
  }
  return resolve(context.root, project.root)
}

function layout(executor: string, options: LayoutExecutorOptions, context: ExecutorContext) {
  const mapped: { rootDir: string, workersDir?: string, outputDir?: string } = { rootDir: resolveRootDir(executor, options, context) }
  const workersDir = optionalPath(executor, 'workersDir', options.workersDir)
  const outputDir = optionalPath(executor, 'outputDir', options.outputDir)
  if (workersDir !== undefined) mapped.workersDir = workersDir
  if (outputDir !== undefined) mapped.outputDir = outputDir
  return mapped
}

export function toBuildWorkersOptions(options: BuildExecutorOptions, context: ExecutorContext): BuildWorkersOptions {
  const executor = '@czo/nx:build'
  const mapped: BuildWorkersOptions = layout(executor, options, context)
  for (const key of ['bundleDependencies', 'sourcemap', 'minify'] as const) {
    const value = optionalBoolean(executor, key, options[key])
    if (value !== undefined) mapped[key] = value
  }
  return mapped
}

const WORKER_NAME = /^[\w.:@/-]+$/

function workerList(executor: string, value: unknown): string[] | undefined {
  if (value === undefined) return undefined
  const items = typeof value === 'string' ? value.split(',') : value
  if (!Array.isArray(items) || items.some(item => typeof item !== 'string')) {
    throw new ExecutorOptionError(executor, 'workers', `expected worker names (an array, or a comma-separated string), got ${describe(value)}`)
  }
  const names = (items as string[]).map(name => name.trim())
  if (names.length === 0 || names.some(name => name === '')) {
    throw new ExecutorOptionError(executor, 'workers', `expected non-empty worker names, got ${describe(value)}`)
  }
  const bad = names.find(name => !WORKER_NAME.test(name))
  if (bad !== undefined) {
    throw new ExecutorOptionError(executor, 'workers', `"${bad}" is not a worker name`)
  }
  return names
}

function positiveInt(executor: string, option: string, value: unknown): number | undefined {
  if (value === undefined) return undefined
  const text = typeof value === 'number' ? String(value) : typeof value === 'string' ? value.trim() : ''
  if (!/^\d+$/.test(text) || Number(text) <= 0) {
    throw new ExecutorOptionError(executor, option, `expected a positive whole number of milliseconds, got ${describe(value)}`)
  }
  return Number(text)
}

function envRecord(executor: string, value: unknown): Record<string, string> | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ExecutorOptionError(executor, 'env', `expected an object of environment variables, got ${describe(value)}`)
  }
  const env: Record<string, string> = {}
  for (const [key, item] of Object.entries(value)) {
    if (typeof item !== 'string' && typeof item !== 'number' && typeof item !== 'boolean') {
      // The value itself is not echoed: env options may hold secrets.
      throw new ExecutorOptionError(executor, `env.${key}`, `expected a string, got a ${Array.isArray(item) ? 'list' : typeof item}`)
    }
    env[key] = String(item)
  }
  return env
}

/**
 * The worker process's shutdown deadline under Nx, unless the target or the environment sets
 * one (the kit's `defaultShutdownTimeout`). Nx 24 stops a continuous task by signalling its
 * process tree and SIGKILLs what is left about 5 s later; with a shorter deadline, jobs still
 * active then are handed back to the queue by the kit instead of being cut off (and left to
 * BullMQ's stall detection).
 */
export const NX_SHUTDOWN_TIMEOUT = 4000

export function toWorkerProcessOptions(
  executor: string,
  options: ProcessExecutorOptions,
  context: ExecutorContext,
  baseEnv: NodeJS.ProcessEnv = process.env,
): WorkerProcessOptions {
  const mapped: WorkerProcessOptions = layout(executor, options, context)
  const workers = workerList(executor, options.workers)
  const shutdownTimeout = positiveInt(executor, 'shutdownTimeout', options.shutdownTimeout)
  const env = envRecord(executor, options.env)
  if (workers !== undefined) mapped.workers = workers
  if (shutdownTimeout !== undefined) mapped.shutdownTimeout = shutdownTimeout
  mapped.defaultShutdownTimeout = NX_SHUTDOWN_TIMEOUT
  if (env !== undefined) mapped.env = { ...baseEnv, ...env }
  return mapped
}
