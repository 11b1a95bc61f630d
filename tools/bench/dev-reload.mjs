// Dev reload: `czo workers:dev` on a fixture app; the worker file is saved 20 times, each time
// with a new version in its code; time from the save to the first job handled by the new code
// (the job's result names the version). Redis CLIENT LIST count before and after.
//
//   node tools/bench/dev-reload.mjs [--saves 20]
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import {
  childEnv, clientCount, CZO_BIN, flag, fmt, loadBullmq, makeApp, mdTable, median, quantile, runBench, sleep, spawnTracked, startRedis, tempDir,
} from './lib.mjs'

const SAVES = Number(flag('saves', '20'))
const QUEUE = 'echo'
const PREFIX = 'devreload'

/** Fork of an empty script to its first IPC message (ms): the floor of any process start. */
async function nodeStart(script) {
  const proc = spawnTracked(process.execPath, [script], { ipc: true, env: childEnv() })
  try {
    const ready = await proc.waitForMessage('ready', 10_000)
    return ready.at - proc.spawnedAt
  }
  finally {
    await proc.stop(2000)
  }
}

const workerFile = version => `import { defineWorker } from '@czo/kit'
const VERSION = ${version}
export default defineWorker(${JSON.stringify(QUEUE)}, async () => ({ version: VERSION, pid: process.pid }))
`

await runBench('dev-reload', 4 * 60_000, async () => {
  const redis = await startRedis()
  const bullmq = await loadBullmq()
  const app = makeApp({ 'server/workers/echo.ts': workerFile(0) })
  const file = join(app, 'server/workers/echo.ts')
  const floorScript = join(tempDir('czo-bench-floor-'), 'empty.mjs')
  writeFileSync(floorScript, "process.send({ type: 'ready' })\nsetInterval(() => {}, 1 << 30)\n")
  const connection = { host: '127.0.0.1', port: redis.port, maxRetriesPerRequest: null }
  const queue = new bullmq.Queue(QUEUE, { prefix: PREFIX, connection })
  const events = new bullmq.QueueEvents(QUEUE, { prefix: PREFIX, connection })
  await events.waitUntilReady()
  const dev = spawnTracked(process.execPath, [CZO_BIN, 'workers:dev', '--cwd', app], {
    cwd: app,
    env: childEnv({ NODE_ENV: 'development', NITRO_CZO_REDIS_URL: redis.url, NITRO_CZO_REDIS_PREFIX: PREFIX }),
  })
  try {
    await dev.waitFor('[czo] ready:', 60_000)

    /** Adds jobs one at a time until one is handled by `version`; returns that job. */
    const probe = async (version, timeoutMs = 20_000) => {
      const deadline = Date.now() + timeoutMs
      for (;;) {
        const job = await queue.add('probe', {}, { removeOnComplete: false })
        const result = await job.waitUntilFinished(events, Math.max(1, deadline - Date.now()))
        if (result?.version === version) return bullmq.Job.fromId(queue, job.id)
        if (Date.now() > deadline) throw new Error(`version ${version} not running ${timeoutMs} ms after the save:\n${dev.output().slice(-3000)}`)
      }
    }

    await probe(0)
    await sleep(500)
    const clientsBefore = await clientCount(redis)
    const reloads = []
    for (let version = 1; version <= SAVES; version++) {
      const logFrom = dev.output().length
      writeFileSync(file, workerFile(version))
      const saved = Date.now()
      const job = await probe(version)
      // The dev runner's own line: "reloaded after a change to … in N ms (build B ms, stop S ms, start T ms)".
      await dev.waitUntil(() => /reloaded after a change/.test(dev.output().slice(logFrom)), 'reload line', 5000).catch(() => {})
      const line = /in (\d+) ms \(build (\d+) ms, stop (\d+) ms, start (\d+) ms\)/.exec(dev.output().slice(logFrom))
      const reload = {
        version,
        toStartMs: job.processedOn - saved,
        toResultMs: job.finishedOn - saved,
        build: Number(line?.[2] ?? Number.NaN),
        stop: Number(line?.[3] ?? Number.NaN),
        start: Number(line?.[4] ?? Number.NaN),
      }
      // Side by side, same minute of the machine: how long any Node process takes to start here.
      reload.nodeFloor = await nodeStart(floorScript)
      reloads.push(reload)
      console.log(`  save ${String(version).padStart(2)}: new code handled a job ${reload.toResultMs} ms after the save (runner: build ${reload.build}, stop ${reload.stop}, start ${reload.start} ms; an empty Node process starts in ${reload.nodeFloor.toFixed(0)} ms)`)
      await sleep(300)
    }
    await sleep(1000)
    const clientsAfter = await clientCount(redis)
    const times = reloads.map(r => r.toResultMs)
    const med = median(times)
    const markdown = [
      `\`czo workers:dev\` on a fixture app with one worker file; the file is saved ${SAVES} times, each save changing the version the processor returns. From each save, probe jobs are enqueued one after the other until one comes back from the new version; the time is that job's \`finishedOn\` minus the moment the save returned. The runner's own breakdown (debounce excluded: 100 ms) is from its "reloaded" line. Redis clients are counted with CLIENT LIST (the benchmark's own connections, the counting one included, are in both counts) before the first save and 1 s after the last reload.`,
      '',
      mdTable(['', 'median', 'p90', 'min', 'max'], [
        ['save → job handled by the new code', `**${fmt(med)} ms**`, `${fmt(quantile(times, 0.9))} ms`, `${fmt(Math.min(...times))} ms`, `${fmt(Math.max(...times))} ms`],
        ['runner: rebuild', `${fmt(median(reloads.map(r => r.build)))} ms`, `${fmt(quantile(reloads.map(r => r.build), 0.9))} ms`, '', ''],
        ['runner: stop the old worker process', `${fmt(median(reloads.map(r => r.stop)))} ms`, `${fmt(quantile(reloads.map(r => r.stop), 0.9))} ms`, '', ''],
        ['runner: start the new one (to ready)', `${fmt(median(reloads.map(r => r.start)))} ms`, `${fmt(quantile(reloads.map(r => r.start), 0.9))} ms`, '', ''],
        ['reference, same run: an empty Node process, fork → first IPC message', `${fmt(median(reloads.map(r => r.nodeFloor)))} ms`, `${fmt(quantile(reloads.map(r => r.nodeFloor), 0.9))} ms`, `${fmt(Math.min(...reloads.map(r => r.nodeFloor)))} ms`, `${fmt(Math.max(...reloads.map(r => r.nodeFloor)))} ms`],
      ]),
      '',
      mdTable(['Redis clients before the first save', `after ${SAVES} reloads`], [[String(clientsBefore), String(clientsAfter)]]),
    ].join('\n')
    return {
      title: 'Dev reload: save to new code handling a job',
      markdown,
      targets: [
        {
          name: `save → new code handled a job (median of ${SAVES})`,
          measured: `${fmt(med)} ms`,
          target: '≤ 500 ms',
          met: med <= 500,
          why: `The runner's own breakdown (medians): 100 ms of debounce, rebuild ${fmt(median(reloads.map(r => r.build)))} ms, stopping the old worker process ${fmt(median(reloads.map(r => r.stop)))} ms, starting the new one until it is connected ${fmt(median(reloads.map(r => r.start)))} ms. Starting a Node process that loads the kit bundle (bullmq, ioredis) and connects to Redis dominates; on this machine at the same time an empty Node process took ${fmt(median(reloads.map(r => r.nodeFloor)))} ms to start. What would close it: start the new worker process while the old one drains (it must not fetch jobs until the old one has stopped), or keep a spare process forked in advance — changes to the kit's dev reloader (dev/dev-workers.ts).`,
        },
        {
          name: 'Redis clients before / after the reloads',
          measured: `${clientsBefore} / ${clientsAfter}`,
          target: 'unchanged',
          met: clientsBefore === clientsAfter,
          why: `${clientsAfter - clientsBefore} more client(s) after ${SAVES} reloads: a worker process that did not close its connections, or one still stopping 1 s after the last reload.`,
        },
      ],
      notes: [],
      data: { reloads, clientsBefore, clientsAfter },
    }
  }
  finally {
    await dev.stop(10_000)
    await events.close().catch(() => {})
    await queue.close().catch(() => {})
  }
})
