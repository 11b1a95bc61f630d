import { defineCommand } from 'citty'
import { startBuiltWorkers } from '../../dev/start-built.js'
import { assertKnownFlags, cwdArg, outputArg, runArgs, runOptions } from '../args.js'
import { guard } from '../errors.js'
import { runInForeground } from '../run-handle.js'

const args = { ...cwdArg, ...outputArg, ...runArgs }

export default defineCommand({
  meta: { name: 'workers:start', description: 'Run the built workers (<output>/server/workers/index.mjs)' },
  args,
  run: ({ args: parsed, rawArgs }) => guard(async () => {
    assertKnownFlags(rawArgs, args)
    const handle = startBuiltWorkers({ rootDir: parsed.cwd, workersDir: parsed.dir, outputDir: parsed.output, ...runOptions(parsed) })
    return runInForeground(handle)
  }),
})
