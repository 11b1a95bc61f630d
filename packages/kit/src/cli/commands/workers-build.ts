import { defineCommand } from 'citty'
import { relative } from 'pathe'
import { buildWorkers } from '../../build/build.js'
import { assertKnownFlags, cwdArg, outputArg } from '../args.js'
import { guard } from '../errors.js'

const args = { ...cwdArg, ...outputArg }

export default defineCommand({
  meta: { name: 'workers:build', description: 'Bundle the app\'s workers into <output>/server/workers (index.mjs runs with plain node)' },
  args,
  run: ({ args: parsed, rawArgs }) => guard(async () => {
    assertKnownFlags(rawArgs, args)
    const started = Date.now()
    const result = await buildWorkers({ rootDir: parsed.cwd, workersDir: parsed.dir, outputDir: parsed.output })
    console.log(`[czo] built ${result.workerFiles.length} worker file${result.workerFiles.length === 1 ? '' : 's'} into ${relative(process.cwd(), result.outDir) || '.'} in ${Date.now() - started} ms`)
    for (const file of result.workerFiles) console.log(`  ${file}`)
    console.log(`[czo] run it with: node ${relative(process.cwd(), result.entry)}`)
  }),
})
