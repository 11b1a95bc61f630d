/**
 * @czo/nx: an Nx plugin for czo kit workers.
 * - `createNodes` / `createNodesV2`: inferred `workers-build`, `workers-serve`, `workers-start` targets;
 * - executors `@czo/nx:build`, `@czo/nx:serve`, `@czo/nx:start` (see executors.json).
 */
export { createNodes, createNodesV2, createWorkersTargets, normalizePluginOptions } from './plugins/plugin'
export type { CzoNxPluginOptions, NormalizedPluginOptions } from './plugins/plugin'
export { toBuildWorkersOptions, toWorkerProcessOptions, ExecutorOptionError } from './options'
export type { BuildExecutorOptions, ProcessExecutorOptions, LayoutExecutorOptions } from './options'
export const name = '@czo/nx'
