import { afterEach, describe, expect, it } from 'vitest'
import { CzoConfigError, normalizeCzoConfig, resolveCzoConfig, setRuntimeConfigReader, useCzoConfig } from '../src/runtime/config.ts'
import { connectionOptions, redisOptionsFromUrl } from '../src/runtime/connection.ts'

afterEach(() => setRuntimeConfigReader(undefined))

describe('resolveCzoConfig (outside Nitro)', () => {
  it('defaults to a local Redis', () => {
    const config = resolveCzoConfig({})
    expect(config.redis.url).toBe('redis://127.0.0.1:6379')
    expect(config.redis.prefix).toBe('bull')
    expect(config.workers.shutdownTimeout).toBe(25_000)
    expect(config.workers.inline).toBe(false)
  })

  it('applies the NITRO_CZO_* mapping first, then REDIS_URL and DATABASE_URL', () => {
    expect(resolveCzoConfig({ REDIS_URL: 'redis://a:1' }).redis.url).toBe('redis://a:1')
    expect(resolveCzoConfig({ REDIS_URL: 'redis://a:1', NITRO_CZO_REDIS_URL: 'redis://b:2' }).redis.url).toBe('redis://b:2')
    expect(resolveCzoConfig({ DATABASE_URL: 'postgres://db/x' }).databaseUrl).toBe('postgres://db/x')
    const config = resolveCzoConfig({
      NITRO_CZO_REDIS_PREFIX: '{czo}',
      NITRO_CZO_REDIS_QUEUE_TIMEOUT: '500',
      NITRO_CZO_WORKERS_INLINE: 'true',
      NITRO_CZO_WORKERS_SHUTDOWN_TIMEOUT: '1000',
    })
    expect(config.redis.prefix).toBe('{czo}')
    expect(config.redis.queueTimeout).toBe(500)
    expect(config.workers).toEqual({ inline: true, shutdownTimeout: 1000 })
  })

  it.each([
    ['NITRO_CZO_REDIS_URL', 'redis://user:hunter22@host:abc/0', /NITRO_CZO_REDIS_URL.*port "abc" is not a number/],
    ['REDIS_URL', 'redis://:hunter22@host:6379/x', /REDIS_URL.*db "x" is not a number/],
    ['REDIS_URL', 'http://:hunter22@host:6379', /REDIS_URL.*unsupported protocol "http:"/],
    ['REDIS_URL', 'not a url hunter22', /REDIS_URL.*not a valid URL/],
    ['DATABASE_URL', 'postgres//:hunter22@', /DATABASE_URL.*not a valid URL/],
    ['NITRO_CZO_WORKERS_SHUTDOWN_TIMEOUT', 'soon', /NITRO_CZO_WORKERS_SHUTDOWN_TIMEOUT.*"soon"/],
    ['NITRO_CZO_REDIS_QUEUE_TIMEOUT', '-1', /NITRO_CZO_REDIS_QUEUE_TIMEOUT/],
    ['NITRO_CZO_WORKERS_INLINE', 'maybe', /NITRO_CZO_WORKERS_INLINE.*true or false/],
  ])('names %s in the error for a malformed value, without the password', (variable, value, message) => {
    let error: unknown
    try {
      resolveCzoConfig({ [variable]: value })
    }
    catch (caught) {
      error = caught
    }
    expect(error).toBeInstanceOf(CzoConfigError)
    expect((error as CzoConfigError).variable).toBe(variable)
    expect((error as Error).message).toMatch(message)
    expect((error as Error).message).not.toContain('hunter22')
  })
})

describe('normalizeCzoConfig (inside Nitro)', () => {
  it('reads runtimeConfig.czo, accepting numbers Nitro parsed from env', () => {
    const config = normalizeCzoConfig({ redis: { url: 'rediss://h:1/2', queueTimeout: 300 }, workers: { inline: true, shutdownTimeout: '900' } })
    expect(config.redis).toEqual({ url: 'rediss://h:1/2', prefix: 'bull', queueTimeout: 300 })
    expect(config.workers).toEqual({ inline: true, shutdownTimeout: 900 })
  })

  it('falls back to REDIS_URL and DATABASE_URL when runtimeConfig leaves the URLs empty, as outside Nitro', () => {
    const env = { REDIS_URL: 'redis://fallback:7', DATABASE_URL: 'postgres://db/x' }
    const inside = normalizeCzoConfig({ redis: { url: '' }, databaseUrl: '' }, env)
    expect(inside.redis.url).toBe('redis://fallback:7')
    expect(inside.databaseUrl).toBe('postgres://db/x')
    expect(inside).toEqual(resolveCzoConfig(env))
    expect(normalizeCzoConfig({ redis: { url: 'redis://set:1' } }, env).redis.url).toBe('redis://set:1')
    expect(() => normalizeCzoConfig({}, { REDIS_URL: 'redis://h:x' })).toThrow(/^Invalid REDIS_URL:/)
  })

  it('names the NITRO_CZO_ variable and the runtimeConfig key of a bad value', () => {
    expect(() => normalizeCzoConfig({ redis: { url: 'redis://:pw-secret@h:x' } }))
      .toThrow(/NITRO_CZO_REDIS_URL \(runtimeConfig\.czo\.redis\.url\)/)
  })

  it('is what useCzoConfig returns once the Nitro plugin sets the reader', () => {
    process.env.NITRO_CZO_REDIS_URL = 'redis://from-env:1'
    expect(useCzoConfig().redis.url).toBe('redis://from-env:1')
    setRuntimeConfigReader(() => ({ redis: { url: 'redis://from-runtime:2' } }))
    expect(useCzoConfig().redis.url).toBe('redis://from-runtime:2')
    setRuntimeConfigReader(() => undefined)
    expect(useCzoConfig().redis.url).toBe('redis://from-env:1')
    delete process.env.NITRO_CZO_REDIS_URL
  })
})

describe('resolveCzoConfig with a built runtimeConfig (worker process of a Nitro build)', () => {
  it('layers NITRO_CZO_* over the built values, then the plain fallbacks and defaults', () => {
    const base = { redis: { url: '', prefix: 'from-config', queueTimeout: 900 }, workers: { shutdownTimeout: 7000 } }
    expect(resolveCzoConfig({}, base).redis).toEqual({ url: 'redis://127.0.0.1:6379', prefix: 'from-config', queueTimeout: 900 })
    expect(resolveCzoConfig({ REDIS_URL: 'redis://r:1' }, base).redis.url).toBe('redis://r:1')
    const overridden = resolveCzoConfig({ NITRO_CZO_REDIS_PREFIX: 'from-env', NITRO_CZO_WORKERS_SHUTDOWN_TIMEOUT: '100' }, base)
    expect(overridden.redis.prefix).toBe('from-env')
    expect(overridden.workers.shutdownTimeout).toBe(100)
    expect(resolveCzoConfig({}, { redis: { url: 'redis://built:2' } }).redis.url).toBe('redis://built:2')
    // The same env and runtimeConfig give the same config as the server's normalizeCzoConfig.
    expect(resolveCzoConfig({ REDIS_URL: 'redis://r:1' }, base)).toEqual(normalizeCzoConfig(base, { REDIS_URL: 'redis://r:1' }))
  })

  it('is what useCzoConfig reads once set', async () => {
    const { setBuiltRuntimeConfig } = await import('../src/runtime/config.ts')
    setBuiltRuntimeConfig({ redis: { prefix: 'built' } })
    expect(useCzoConfig().redis.prefix).toBe('built')
    setBuiltRuntimeConfig(undefined)
    expect(useCzoConfig().redis.prefix).toBe('bull')
  })
})

describe('connection options', () => {
  it('maps URL parts, TLS, credentials and db', () => {
    expect(redisOptionsFromUrl('rediss://me:p%40ss@cache.example:6380/3')).toEqual({
      host: 'cache.example', port: 6380, username: 'me', password: 'p@ss', db: 3, tls: { servername: 'cache.example' },
    })
    expect(redisOptionsFromUrl('redis://[::1]')).toMatchObject({ host: '::1', port: 6379, db: 0 })
  })

  it('lets workers retry forever and makes the HTTP side fail fast', () => {
    const worker = connectionOptions('worker', 'redis://h', 1000)
    expect(worker.maxRetriesPerRequest).toBeNull()
    expect(worker.retryStrategy?.(50)).toBe(5000)
    const queue = connectionOptions('queue', 'redis://h', 1000)
    expect(queue.enableOfflineQueue).toBe(false)
    expect(queue.commandTimeout).toBe(1000)
    expect(queue.retryStrategy?.(1)).toBe(100)
  })
})
