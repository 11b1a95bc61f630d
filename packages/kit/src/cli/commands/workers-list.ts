import { defineCommand } from 'citty'
import { listWorkers } from '../../build/list.js'
import { assertKnownFlags, cwdArg } from '../args.js'
import { guard } from '../errors.js'

const args = {
  ...cwdArg,
  json: { type: 'boolean', description: 'Print JSON', default: false },
} as const

export default defineCommand({
  meta: { name: 'workers:list', description: 'List the discovered workers with file, queue and effective options' },
  args,
  run: ({ args: parsed, rawArgs }) => guard(async () => {
    assertKnownFlags(rawArgs, args)
    const workers = await listWorkers({ rootDir: parsed.cwd, workersDir: parsed.dir })
    if (parsed.json) {
      console.log(JSON.stringify(workers, null, 2))
      return
    }
    for (const worker of workers) {
      const options = Object.entries(worker.options).map(([key, value]) => `${key}=${JSON.stringify(value)}`).join(' ')
      console.log(`${worker.name}\n  file:    ${worker.file}\n  queue:   ${worker.queue}\n  options: ${options}`)
    }
  }),
})
