/** The runner's output: one line per event, prefixed so it stands out in a mixed log. */
export interface RunnerLogger {
  info(message: string): void
  warn(message: string): void
  error(message: string, error?: unknown): void
}

export const consoleLogger: RunnerLogger = {
  info: message => console.log(`[czo] ${message}`),
  warn: message => console.warn(`[czo] ${message}`),
  error: (message, error) => {
    if (error === undefined) console.error(`[czo] ${message}`)
    else console.error(`[czo] ${message}`, error)
  },
}
