import { defineCommand, runMain as cittyRunMain } from 'citty'
import { createRequire } from 'node:module'

const { version } = createRequire(import.meta.url)('../../package.json') as { version: string }

/** The `czo` command. Each subcommand is loaded only when used. */
export const main = defineCommand({
  meta: { name: 'czo', version, description: 'czo kit: run BullMQ workers in their own process' },
  subCommands: {
    'workers:dev': () => import('./commands/workers-dev.js').then(m => m.default),
    'workers:start': () => import('./commands/workers-start.js').then(m => m.default),
    'workers:build': () => import('./commands/workers-build.js').then(m => m.default),
    'workers:list': () => import('./commands/workers-list.js').then(m => m.default),
  },
})

export function runMain(): Promise<void> {
  return cittyRunMain(main)
}
