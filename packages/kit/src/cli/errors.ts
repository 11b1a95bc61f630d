import { UsageError } from '../runner/args.js'
import { describeStartupError } from '../runner/process.js'
import { ExitCode } from '../runner/exit-codes.js'
import { WorkerSelectionError } from '../runner/select.js'
import { WorkersBuildError } from '../build/build.js'
import { WorkerDiscoveryError } from '../build/discover.js'
import { MissingBuildError } from '../dev/start-built.js'

/** Exit code and message for an error of a CLI command. */
export function cliError(error: unknown): { code: number, message: string } {
  if (error instanceof MissingBuildError || error instanceof UsageError || error instanceof WorkerSelectionError) {
    return { code: ExitCode.usage, message: error.message }
  }
  if (error instanceof WorkersBuildError || error instanceof WorkerDiscoveryError) return { code: ExitCode.failure, message: error.message }
  return describeStartupError(error)
}

/** Runs a command body; a failure prints one clear message and sets the exit code. */
export async function guard(body: () => Promise<number | void>): Promise<void> {
  try {
    const code = await body()
    if (typeof code === 'number') process.exitCode = code
  }
  catch (error) {
    const { code, message } = cliError(error)
    console.error(`[czo] ${message}`)
    process.exitCode = code
  }
}
