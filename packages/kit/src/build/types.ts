import type { CzoConfigInput } from '../runtime/config.js'

/** Where an app keeps its workers and where its build goes. Paths are relative to `rootDir`. */
export interface WorkersLayout {
  /** The app's root (the folder with `server/`). */
  rootDir: string
  /** Folder scanned for worker files. Default `server/workers`. */
  workersDir?: string
  /** Build output folder; workers go to `<outputDir>/server/workers`. Default `.output`. */
  outputDir?: string
}

export interface BuildWorkersOptions extends WorkersLayout {
  /**
   * Bundle dependencies (bullmq, ioredis, the kit, whatever workers import) into the output so
   * that it runs with no node_modules. Default true. The Nitro module passes false and lets
   * Nitro trace the dependencies into `.output/server/node_modules` instead.
   */
  bundleDependencies?: boolean
  /** Write linked source maps and enable them at runtime. Default true. */
  sourcemap?: boolean
  /** Minify the output. Default false. */
  minify?: boolean
  /**
   * `runtimeConfig.czo` of a Nitro app, baked into `index.mjs` as the worker process's config
   * under its env (`NITRO_CZO_*` still override it), as Nitro bakes it into the server.
   */
  runtimeConfig?: CzoConfigInput
}

export interface BuildWorkersResult {
  /** Absolute path of `<outputDir>/server/workers`. */
  outDir: string
  /** Absolute path of the runnable `index.mjs`. */
  entry: string
  /** Worker files included, relative to `rootDir`, sorted. */
  workerFiles: string[]
  /** Files written, relative to `outDir`, sorted. */
  files: string[]
  /** Source files (absolute) the output was built from: the watch list for dev mode. */
  inputs: string[]
}
