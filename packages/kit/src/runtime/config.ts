import { redactUrl } from './redact.js'

/**
 * The kit's configuration, the same shape in both processes.
 * Inside Nitro it is `runtimeConfig.czo` (overridable with `NITRO_CZO_*`); outside Nitro the
 * same mapping is applied to `process.env` by {@link resolveCzoConfig}.
 */
export interface CzoConfig {
  redis: {
    /** `redis://` or `rediss://` (TLS) URL, with optional username, password and db index. */
    url: string
    /** BullMQ key prefix. Use a hash tag such as `{czo}` for Redis Cluster. */
    prefix: string
    /** How long an enqueue from the HTTP side may wait for Redis before it fails (ms). */
    queueTimeout: number
  }
  /** Passed through for apps; validated as a URL when set. */
  databaseUrl: string
  workers: {
    /** Run the discovered workers inside the Nitro process (single-process hosting, migration). */
    inline: boolean
    /** Upper bound of a graceful shutdown of the worker process (ms). */
    shutdownTimeout: number
  }
}

/** The input accepted from `runtimeConfig.czo`: everything optional, numbers may arrive as strings. */
export type CzoConfigInput = {
  redis?: { url?: string, prefix?: string, queueTimeout?: number | string }
  databaseUrl?: string
  workers?: { inline?: boolean | string, shutdownTimeout?: number | string }
}

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379'

type Env = Record<string, string | undefined>

export const czoConfigDefaults: CzoConfig = {
  redis: { url: DEFAULT_REDIS_URL, prefix: 'bull', queueTimeout: 2000 },
  databaseUrl: '',
  workers: { inline: false, shutdownTimeout: 25_000 },
}

/**
 * What the Nitro module puts in `runtimeConfig.czo`: every key present (Nitro maps `NITRO_CZO_*`
 * only onto existing keys), the URLs empty so that `REDIS_URL` / `DATABASE_URL` still apply.
 */
export const czoRuntimeConfigSeed: CzoConfig = {
  ...czoConfigDefaults,
  redis: { ...czoConfigDefaults.redis, url: '' },
  databaseUrl: '',
}

/** Raised for a malformed configuration value; `variable` names where the value came from. */
export class CzoConfigError extends Error {
  override name = 'CzoConfigError'
  constructor(readonly variable: string, message: string) {
    super(`Invalid ${variable}: ${message}`)
  }
}


interface Field {
  /** Path in `runtimeConfig.czo`. */
  path: readonly [string, ...string[]]
  /** Env variables read outside Nitro, first match wins (the `NITRO_CZO_*` name is always first). */
  env: readonly string[]
}

const FIELDS = {
  redisUrl: { path: ['redis', 'url'], env: ['NITRO_CZO_REDIS_URL', 'REDIS_URL'] },
  redisPrefix: { path: ['redis', 'prefix'], env: ['NITRO_CZO_REDIS_PREFIX'] },
  redisQueueTimeout: { path: ['redis', 'queueTimeout'], env: ['NITRO_CZO_REDIS_QUEUE_TIMEOUT'] },
  databaseUrl: { path: ['databaseUrl'], env: ['NITRO_CZO_DATABASE_URL', 'DATABASE_URL'] },
  workersInline: { path: ['workers', 'inline'], env: ['NITRO_CZO_WORKERS_INLINE'] },
  workersShutdownTimeout: { path: ['workers', 'shutdownTimeout'], env: ['NITRO_CZO_WORKERS_SHUTDOWN_TIMEOUT'] },
} satisfies Record<string, Field>

interface Source {
  get(field: Field): { value: unknown, variable: string } | undefined
}

function envSource(env: Env): Source {
  return {
    get(field) {
      for (const name of field.env) {
        const value = env[name]
        if (value !== undefined && value !== '') return { value, variable: name }
      }
      return undefined
    },
  }
}

function runtimeConfigSource(czo: CzoConfigInput, env: Env): Source {
  const fallbacks = envSource(env)
  return {
    get(field) {
      let value: unknown = czo
      for (const key of field.path) value = (value as Record<string, unknown> | undefined)?.[key]
      // Unset in runtimeConfig: the plain fallbacks (REDIS_URL, DATABASE_URL) count in Nitro too,
      // so both processes resolve the same value from the same environment.
      if (value === undefined || value === '') return fallbacks.get({ ...field, env: field.env.slice(1) })
      // Nitro fills runtimeConfig from NITRO_CZO_*, so that is the name a user can act on.
      return { value, variable: `${field.env[0]} (runtimeConfig.czo.${field.path.join('.')})` }
    },
  }
}

function readString(source: Source, field: Field, fallback: string): string {
  const found = source.get(field)
  return found === undefined ? fallback : String(found.value)
}

function readPositiveInt(source: Source, field: Field, fallback: number): number {
  const found = source.get(field)
  if (found === undefined) return fallback
  const text = String(found.value).trim()
  if (!/^\d+$/.test(text) || Number(text) <= 0) {
    throw new CzoConfigError(found.variable, `expected a positive whole number of milliseconds, got "${text}"`)
  }
  return Number(text)
}

function readBoolean(source: Source, field: Field, fallback: boolean): boolean {
  const found = source.get(field)
  if (found === undefined) return fallback
  if (typeof found.value === 'boolean') return found.value
  const text = String(found.value).trim().toLowerCase()
  if (['1', 'true', 'yes', 'on'].includes(text)) return true
  if (['0', 'false', 'no', 'off'].includes(text)) return false
  throw new CzoConfigError(found.variable, `expected true or false, got "${text}"`)
}

/** Checks a Redis URL and explains what is wrong, never echoing the password. */
export function validateRedisUrl(value: string, variable: string): string {
  const shown = redactUrl(value)
  let url: URL
  try {
    url = new URL(value)
  }
  catch {
    const port = /^[a-z]+:\/\/(?:[^@/]*@)?[^:/]*:([^/]*)/i.exec(value)?.[1]
    const why = port !== undefined && !/^\d+$/.test(port) ? `port "${port}" is not a number` : 'not a valid URL'
    // An unparseable value is not echoed: it may be a bare password pasted into the wrong place.
    throw new CzoConfigError(variable, `${why}; expected redis://[user:password@]host[:port][/db]`)
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
    throw new CzoConfigError(variable, `unsupported protocol "${url.protocol}" (${shown}); expected redis:// or rediss://`)
  }
  if (!url.hostname) throw new CzoConfigError(variable, `missing host (${shown})`)
  const db = url.pathname.replace(/^\//, '')
  if (db !== '' && !/^\d+$/.test(db)) {
    throw new CzoConfigError(variable, `db "${db}" is not a number (${shown})`)
  }
  return value
}

function validateDatabaseUrl(value: string, variable: string): string {
  if (value === '') return value
  try {
    new URL(value)
  }
  catch {
    throw new CzoConfigError(variable, 'not a valid URL')
  }
  return value
}

function resolveFrom(source: Source): CzoConfig {
  const d = czoConfigDefaults
  const redisUrl = readString(source, FIELDS.redisUrl, d.redis.url)
  const urlVariable = source.get(FIELDS.redisUrl)?.variable ?? 'redis URL'
  const databaseUrl = readString(source, FIELDS.databaseUrl, d.databaseUrl)
  return {
    redis: {
      url: validateRedisUrl(redisUrl, urlVariable),
      prefix: readString(source, FIELDS.redisPrefix, d.redis.prefix),
      queueTimeout: readPositiveInt(source, FIELDS.redisQueueTimeout, d.redis.queueTimeout),
    },
    databaseUrl: validateDatabaseUrl(databaseUrl, source.get(FIELDS.databaseUrl)?.variable ?? 'database URL'),
    workers: {
      inline: readBoolean(source, FIELDS.workersInline, d.workers.inline),
      shutdownTimeout: readPositiveInt(source, FIELDS.workersShutdownTimeout, d.workers.shutdownTimeout),
    },
  }
}

/**
 * `NITRO_CZO_*` variables first, then `runtimeConfig.czo` as it was built, then the plain
 * fallbacks and defaults: Nitro's own order, for a worker process built by the Nitro module.
 */
function layeredSource(base: CzoConfigInput, env: Env): Source {
  const nitroEnv = envSource(env)
  const built = runtimeConfigSource(base, env)
  return {
    get: field => nitroEnv.get({ ...field, env: field.env.slice(0, 1) }) ?? built.get(field),
  }
}

/**
 * Resolves the config from environment variables, as the worker process does; `base` is the
 * `runtimeConfig.czo` a Nitro build baked into the worker output (env still overrides it).
 */
export function resolveCzoConfig(env: Env = process.env, base?: CzoConfigInput): CzoConfig {
  return resolveFrom(base ? layeredSource(base, env) : envSource(env))
}

/** Normalises and validates `runtimeConfig.czo`, as the Nitro process does. */
export function normalizeCzoConfig(czo: CzoConfigInput, env: Env = process.env): CzoConfig {
  return resolveFrom(runtimeConfigSource(czo, env))
}

let runtimeConfigReader: (() => CzoConfigInput | undefined) | undefined
let builtConfig: CzoConfigInput | undefined

/**
 * Called by a worker process built by the Nitro module with the app's `runtimeConfig.czo`, so
 * that values set in `nitro.config.ts` reach the worker process as they reach the server.
 */
export function setBuiltRuntimeConfig(czo: CzoConfigInput | undefined): void {
  builtConfig = czo
}

/**
 * Called by the kit's Nitro plugin so that {@link useCzoConfig} reads `runtimeConfig.czo`.
 * Pass `undefined` to go back to `process.env`.
 */
export function setRuntimeConfigReader(reader: (() => CzoConfigInput | undefined) | undefined): void {
  runtimeConfigReader = reader
}

/**
 * The kit's configuration in either process: `runtimeConfig.czo` inside Nitro, `process.env`
 * (`NITRO_CZO_*`, then `REDIS_URL` / `DATABASE_URL`) outside it.
 */
export function useCzoConfig(): CzoConfig {
  const czo = runtimeConfigReader?.()
  return czo ? normalizeCzoConfig(czo) : resolveCzoConfig(process.env, builtConfig)
}
