// Start and stop: mazo's production worker process (nitro build output, its three workers)
// from spawn to ready (the IPC "czo:ready" message) and, idle, from SIGTERM to exit; peak RSS
// (VmHWM) of the idle process. Side by side with a bare BullMQ script with the same three
// workers, and with an empty Node script (the floor of any Node process).
//
//   node tools/bench/start-stop.mjs [--reps 7]
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import {
  BULLMQ_PATH, buildMazo, childEnv, czoBuild, flag, makeApp, fmt, mdTable, median, memoryOf, runBench, sleep, spawnTracked, startRedis, tempDir,
} from './lib.mjs'

const REPS = Number(flag('reps', '7'))
const IDLE_MS = 1000

const BARE_SCRIPT = `import { Worker } from ${JSON.stringify(BULLMQ_PATH)}
import { createRequire } from 'node:module'
const { Redis } = createRequire(${JSON.stringify(BULLMQ_PATH)})('ioredis')
const url = new URL(process.env.REDIS_URL)
const connection = new Redis({ host: url.hostname, port: Number(url.port), maxRetriesPerRequest: null })
const prefix = process.env.PREFIX
const workers = ['orders', 'emails', 'inventory'].map(name => new Worker(name, async job => ({ name, id: job.id }), { prefix, connection }))
for (const worker of workers) worker.on('error', error => console.error(error.message))
await Promise.all(workers.map(worker => worker.waitUntilReady()))
process.send?.({ type: 'czo:ready' })
process.once('SIGTERM', async () => {
  await Promise.all(workers.map(worker => worker.close()))
  await connection.quit()
  process.exit(0)
})
`

const EMPTY_SCRIPT = `process.send?.({ type: 'czo:ready' })
process.once('SIGTERM', () => process.exit(0))
setInterval(() => {}, 1 << 30)
`

async function cycle(kind, rep, ctx) {
  const env = childEnv({ NITRO_CZO_REDIS_URL: ctx.redis.url, NITRO_CZO_REDIS_PREFIX: `ss-${rep}`, REDIS_URL: ctx.redis.url, PREFIX: `ss-${rep}` })
  const script = { czo: ctx.czoEntry, bundled: ctx.bundledEntry, bare: ctx.bareScript, node: ctx.emptyScript }[kind]
  const proc = spawnTracked(process.execPath, [script], { env, ipc: true, cwd: ctx.root })
  try {
    const ready = await proc.waitForMessage('czo:ready', 20_000)
    const startMs = ready.at - proc.spawnedAt
    await sleep(IDLE_MS)
    const memory = memoryOf(proc.pid)
    const signalled = performance.now()
    proc.child.kill('SIGTERM')
    const code = await Promise.race([proc.exited(), sleep(10_000).then(() => 'timeout')])
    const stopMs = proc.exitedAt - signalled
    return { kind, rep, startMs, stopMs, code, ...memory }
  }
  finally {
    await proc.stop(2000)
  }
}

await runBench('start-stop', 3 * 60_000, async () => {
  const redis = await startRedis()
  const root = await buildMazo()
  const dir = tempDir('czo-bench-ss-')
  const bareScript = join(dir, 'bare-3-workers.mjs')
  const emptyScript = join(dir, 'empty.mjs')
  writeFileSync(bareScript, BARE_SCRIPT)
  writeFileSync(emptyScript, EMPTY_SCRIPT)
  // The same three queues built by `czo workers:build` (everything bundled into the worker
  // output), with trivial processors: what mazo's own worker code adds.
  const fixture = makeApp(Object.fromEntries(['orders', 'emails', 'inventory'].map(name => [
    `server/workers/${name}.ts`,
    `import { defineWorker } from '@czo/kit'\nexport default defineWorker(${JSON.stringify(name)}, async job => ({ id: job.id }))\n`,
  ])))
  await czoBuild(fixture)
  const ctx = { redis, root, bareScript, emptyScript, czoEntry: join(root, '.output/server/workers/index.mjs'), bundledEntry: join(fixture, '.output/server/workers/index.mjs') }
  const kinds = ['czo', 'bundled', 'bare', 'node']
  // One unmeasured round warms the file cache.
  for (const kind of kinds) await cycle(kind, 0, ctx)
  const runs = []
  for (let rep = 1; rep <= REPS; rep++) {
    for (const kind of rep % 2 ? kinds : [...kinds].reverse()) {
      const run = await cycle(kind, rep, ctx)
      runs.push(run)
      console.log(`  rep ${rep} ${kind.padEnd(7)} start→ready ${run.startMs.toFixed(0)} ms, SIGTERM→exit ${run.stopMs.toFixed(0)} ms (code ${run.code}), peak RSS ${run.hwmMB.toFixed(1)} MB`)
    }
  }
  const of = kind => runs.filter(run => run.kind === kind)
  const med = (kind, key) => median(of(kind).map(run => run[key]))
  const label = { czo: 'mazo worker process (nitro build, 3 workers)', bundled: '3 trivial workers built by `czo workers:build` (bullmq bundled)', bare: 'bare BullMQ script (3 workers, one shared connection)', node: 'empty Node script (floor)' }
  const rows = kinds.map(kind => [
    label[kind],
    `${fmt(med(kind, 'startMs'))} ms`,
    `${fmt(med(kind, 'stopMs'))} ms`,
    `${fmt(med(kind, 'hwmMB'), 1)} MB`,
    `${fmt(med(kind, 'rssMB'), 1)} MB`,
    [...new Set(of(kind).map(run => run.code))].join(', '),
  ])
  const czoStart = med('czo', 'startMs')
  const czoStop = med('czo', 'stopMs')
  const czoPeak = med('czo', 'hwmMB')
  const markdown = [
    `Each process is forked with an IPC channel (as \`czo workers:start\` and \`workers:dev\` do). The target is mazo's worker process from its nitro build output (\`.output/server/workers/index.mjs\`, workers \`orders\`, \`emails\`, \`inventory\`; the kit's Nitro module writes the kit, with bullmq and ioredis bundled in, as one file to \`.output/server/node_modules/@czo/kit\`; the bare script loads bullmq and ioredis unbundled from node_modules, as a plain BullMQ app does). Start = fork to the "czo:ready" IPC message (sent once every worker is connected to Redis), then ${IDLE_MS} ms idle, then peak RSS (VmHWM in /proc) and SIGTERM → exit. The bare script and the empty script send the same message. One warm-up round, then median of ${REPS} repetitions, interleaved.`,
    '',
    mdTable(['process', 'start → ready', 'idle SIGTERM → exit', 'peak RSS (VmHWM)', 'RSS idle', 'exit codes'], rows),
    '',
    mdTable(['czo / bare', 'start', 'stop', 'peak RSS'], [[
      '',
      `${(czoStart / med('bare', 'startMs')).toFixed(2)}×`,
      `${(czoStop / med('bare', 'stopMs')).toFixed(2)}×`,
      `${(czoPeak / med('bare', 'hwmMB')).toFixed(2)}×`,
    ]]),
  ].join('\n')
  return {
    title: 'Start and stop of the production worker process',
    markdown,
    targets: [
      {
        name: 'mazo worker process start → ready',
        measured: `${fmt(czoStart)} ms`,
        target: '≤ 300 ms',
        met: czoStart <= 300,
        why: `An empty Node script takes ${fmt(med('node', 'startMs'))} ms to start here, the same three queues with trivial processors built by \`czo workers:build\` ${fmt(med('bundled', 'startMs'))} ms and the bare BullMQ script ${fmt(med('bare', 'startMs'))} ms (${(czoStart / med('bare', 'startMs')).toFixed(2)}× for mazo's process). The rest is loading code and connecting three workers to Redis, on a machine whose other tenants slow every process start; compare with the bare script of the same run, and rerun \`node tools/bench/start-stop.mjs\` on a quieter machine.`,
      },
      { name: 'idle SIGTERM → exit', measured: `${fmt(czoStop)} ms`, target: '≤ 200 ms', met: czoStop <= 200 },
      { name: 'peak RSS, three workers idle', measured: `${fmt(czoPeak, 1)} MB`, target: '≤ 90 MB', met: czoPeak <= 90 },
    ],
    notes: [],
    data: { runs },
  }
})
