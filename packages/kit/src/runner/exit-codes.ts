/** Exit codes of the worker process (`index.mjs`, `czo workers:*`). Documented in docs/cli.md. */
export const ExitCode = {
  /** Clean start and graceful shutdown: every active job finished. */
  ok: 0,
  /** Failure: a worker file or the config is broken, an uncaught error, a crash. */
  failure: 1,
  /** Bad usage: unknown or malformed flag, unknown worker name, empty selection, missing build. */
  usage: 2,
  /** Forced stop (shutdown deadline passed or a second signal): active jobs were handed back to the queue. */
  forced: 3,
} as const
