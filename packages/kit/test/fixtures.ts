import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const CZO_BIN = fileURLToPath(new URL('../bin/czo.mjs', import.meta.url))

/** A worker that sleeps JOB_MS (env) per job and returns who processed it. */
export function sleepyWorker(name: string, extra = ''): string {
  return `import { defineWorker } from '@czo/kit'
${extra}
const ms = Number(process.env.JOB_MS ?? '0')
export default defineWorker<{ n: number }, string>(${JSON.stringify(name)}, async (job) => {
  if (ms) await new Promise(resolve => setTimeout(resolve, ms))
  return ${JSON.stringify(name)} + ':' + job.data.n + ':' + process.pid
}, { concurrency: Number(process.env.CONCURRENCY ?? '1') })
`
}

export interface FixtureApp {
  dir: string
  write(path: string, content: string): void
  remove(): void
}

const apps: FixtureApp[] = []

/** An app folder in a temp dir; `files` are paths relative to it. */
export function makeApp(files: Record<string, string>): FixtureApp {
  const dir = mkdtempSync(join(tmpdir(), 'czo-app-'))
  const app: FixtureApp = {
    dir,
    write(path, content) {
      mkdirSync(dirname(join(dir, path)), { recursive: true })
      writeFileSync(join(dir, path), content)
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  }
  for (const [path, content] of Object.entries(files)) app.write(path, content)
  apps.push(app)
  return app
}

export function removeApps(): void {
  for (const app of apps.splice(0)) app.remove()
}
