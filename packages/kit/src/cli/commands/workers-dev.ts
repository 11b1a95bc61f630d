import { defineCommand } from 'citty'
import { startDevWorkers } from '../../dev/dev-workers.js'
import { assertKnownFlags, cwdArg, runArgs, runOptions } from '../args.js'
import { guard } from '../errors.js'
import { runInForeground } from '../run-handle.js'

const args = { ...cwdArg, ...runArgs }

export default defineCommand({
  meta: { name: 'workers:dev', description: 'Run the app\'s workers from source in a separate process, restarting on change' },
  args,
  run: ({ args: parsed, rawArgs }) => guard(async () => {
    assertKnownFlags(rawArgs, args)
    const handle = await startDevWorkers({ rootDir: parsed.cwd, workersDir: parsed.dir, ...runOptions(parsed) })
    return runInForeground(handle)
  }),
})
