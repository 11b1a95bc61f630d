/**
 * Inferred targets for apps with a worker folder (default `server/workers`):
 * `workers-build` (cached), `workers-serve` (continuous) and `workers-start` (continuous,
 * after `workers-build`). Target names and the layout are plugin options in `nx.json`:
 *
 *   { "plugin": "@czo/nx", "options": { "buildTargetName": "workers-build", ... } }
 */
import { readFileSync, realpathSync, statSync } from 'node:fs'
import { createRequire } from 'node:module'
import { basename, dirname, isAbsolute, join, relative, sep } from 'node:path'
import type { CreateNodes, CreateNodesContext, CreateNodesResult, TargetConfiguration } from '@nx/devkit'

export interface CzoNxPluginOptions {
  /** Default `workers-build`. */
  buildTargetName?: string
  /** Default `workers-serve`. */
  serveTargetName?: string
  /** Default `workers-start`. */
  startTargetName?: string
  /** Worker folder relative to the project root; a project gets targets only when it exists. Default `server/workers`. */
  workersDir?: string
  /** Build output folder relative to the project root. Default `.output`. */
  outputDir?: string
}

export interface NormalizedPluginOptions {
  buildTargetName: string
  serveTargetName: string
  startTargetName: string
  workersDir: string
  outputDir: string
}

export const DEFAULT_WORKERS_DIR = 'server/workers'
export const DEFAULT_OUTPUT_DIR = '.output'

/** Projects are found by their project.json or (inside the package manager's workspaces) package.json. */
export const PROJECT_FILES_GLOB = '**/{project.json,package.json}'

const OPTION_KEYS = ['buildTargetName', 'serveTargetName', 'startTargetName', 'workersDir', 'outputDir'] as const

export function normalizePluginOptions(options: CzoNxPluginOptions | undefined): NormalizedPluginOptions {
  const raw = (options ?? {}) as Record<string, unknown>
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new Error(`@czo/nx plugin: options in nx.json must be an object, got ${JSON.stringify(options)}`)
  }
  const unknown = Object.keys(raw).filter(key => !(OPTION_KEYS as readonly string[]).includes(key))
  if (unknown.length > 0) {
    throw new Error(`@czo/nx plugin: unknown option(s) ${unknown.map(key => `"${key}"`).join(', ')} in nx.json; known options: ${OPTION_KEYS.join(', ')}`)
  }
  const text = (key: typeof OPTION_KEYS[number], fallback: string): string => {
    const value = raw[key]
    if (value === undefined) return fallback
    if (typeof value !== 'string' || value.trim() === '') {
      throw new Error(`@czo/nx plugin: option "${key}" in nx.json must be a non-empty string, got ${JSON.stringify(value)}`)
    }
    return value.trim()
  }
  const normalized: NormalizedPluginOptions = {
    buildTargetName: text('buildTargetName', 'workers-build'),
    serveTargetName: text('serveTargetName', 'workers-serve'),
    startTargetName: text('startTargetName', 'workers-start'),
    workersDir: text('workersDir', DEFAULT_WORKERS_DIR).replace(/\/+$/, ''),
    outputDir: text('outputDir', DEFAULT_OUTPUT_DIR).replace(/\/+$/, ''),
  }
  for (const key of ['workersDir', 'outputDir'] as const) {
    const value = normalized[key]
    if (isAbsolute(value) || value.split(/[\\/]/).includes('..')) {
      throw new Error(`@czo/nx plugin: option "${key}" in nx.json must be a path inside the project, got ${JSON.stringify(value)}`)
    }
  }
  const names = [normalized.buildTargetName, normalized.serveTargetName, normalized.startTargetName]
  if (new Set(names).size !== names.length) {
    throw new Error(`@czo/nx plugin: buildTargetName, serveTargetName and startTargetName must differ, got ${names.join(', ')}`)
  }
  return normalized
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory()
  }
  catch {
    return false
  }
}

/** The package manager's workspace globs, via Nx's own matcher; a package.json outside them is no project. */
function packageJsonMatcher(workspaceRoot: string): (packageJsonPath: string) => boolean {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const internals = require('nx/src/devkit-internals') as {
      buildPackageJsonPatterns(root: string, readJson: (path: string) => unknown): unknown
      buildPackageJsonWorkspacesMatcher(patterns: unknown): (path: string) => boolean
    }
    const readJson = (path: string) => JSON.parse(readFileSync(isAbsolute(path) ? path : join(workspaceRoot, path), 'utf8'))
    return internals.buildPackageJsonWorkspacesMatcher(internals.buildPackageJsonPatterns(workspaceRoot, readJson))
  }
  catch {
    return () => false
  }
}

/** The package root of a module resolved from `fromDir`, or undefined. */
function packageRoot(name: string, fromDir: string): string | undefined {
  try {
    return dirname(realpathSync(createRequire(join(fromDir, 'package.json')).resolve(`${name}/package.json`)))
  }
  catch {
    return undefined
  }
}

/** This plugin's own package root (`src/plugins` and `dist/plugins` both sit two levels down). */
function pluginRoot(): string | undefined {
  const root = join(__dirname, '..', '..')
  try {
    return JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).name === '@czo/nx' ? realpathSync(root) : undefined
  }
  catch {
    return undefined
  }
}

type Input = NonNullable<TargetConfiguration['inputs']>[number]

/**
 * What shapes the worker bundle besides the app: the kit (discovery + bundler) and this plugin
 * (option mapping). Workspace sources when they live in this workspace, otherwise the installed
 * package versions.
 */
function toolInputs(workspaceRoot: string, projectDir: string): Input[] {
  const inputs: Input[] = []
  const external: string[] = []
  const tools: Array<[string, string | undefined]> = [
    ['@czo/kit', packageRoot('@czo/kit', projectDir) ?? packageRoot('@czo/kit', workspaceRoot)],
    ['@czo/nx', pluginRoot()],
  ]
  let realWorkspaceRoot = workspaceRoot
  try {
    realWorkspaceRoot = realpathSync(workspaceRoot)
  }
  catch {}
  for (const [name, root] of tools) {
    if (!root) continue
    const rel = relative(realWorkspaceRoot, root)
    if (rel !== '' && !rel.startsWith('..') && !isAbsolute(rel) && !rel.split(sep).includes('node_modules')) {
      const posix = rel.split(sep).join('/')
      inputs.push(`{workspaceRoot}/${posix}/src/**/*`, `{workspaceRoot}/${posix}/package.json`)
    }
    else {
      external.push(name)
    }
  }
  if (external.length > 0) inputs.push(installedVersionsInput(external, relative(realWorkspaceRoot, projectDir)))
  return inputs
}

/**
 * The versions of installed (not workspace-local) tool packages, as resolved from the project.
 * A runtime input rather than `externalDependencies`, which fails the task when the workspace
 * has no lockfile entry for the package; the command runs at the workspace root, so it holds
 * no absolute path.
 */
function installedVersionsInput(names: string[], projectRoot: string): Input {
  const from = JSON.stringify((projectRoot || '.').split(sep).join('/'))
  const script = `const r=require('module').createRequire(require('path').resolve(${from},'package.json'));`
    + `for(const n of ${JSON.stringify(names)}){let v='missing';try{v=r(n+'/package.json').version}catch{}console.log(n+'@'+v)}`
  return { runtime: `node -e "${script.replace(/"/g, '\\"')}"` }
}

export function createWorkersTargets(projectRoot: string, options: NormalizedPluginOptions, context: CreateNodesContext): Record<string, TargetConfiguration> {
  const layoutOptions: Record<string, string> = {}
  if (options.workersDir !== DEFAULT_WORKERS_DIR) layoutOptions.workersDir = options.workersDir
  if (options.outputDir !== DEFAULT_OUTPUT_DIR) layoutOptions.outputDir = options.outputDir
  // The app's server sources: the top folder of the worker folder (`server/` by default),
  // since workers import helpers from anywhere under it.
  const sourceDir = options.workersDir.split('/')[0]
  const projectDir = join(context.workspaceRoot, projectRoot)
  const technologies = ['czo', 'bullmq']
  return {
    [options.buildTargetName]: {
      executor: '@czo/nx:build',
      cache: true,
      inputs: [
        `{projectRoot}/${sourceDir}/**/*`,
        `!{projectRoot}/${sourceDir}/**/*.{test,spec}.*`,
        '{projectRoot}/package.json',
        '{projectRoot}/tsconfig*.json',
        ...toolInputs(context.workspaceRoot, projectDir),
      ],
      outputs: [`{projectRoot}/${options.outputDir}/server/workers`],
      options: { ...layoutOptions },
      metadata: {
        technologies,
        description: `Build the worker process into ${options.outputDir}/server/workers (czo workers:build)`,
      },
    },
    [options.serveTargetName]: {
      executor: '@czo/nx:serve',
      continuous: true,
      options: { ...layoutOptions },
      readyWhen: { signal: true },
      metadata: {
        technologies,
        description: 'Run the workers from source in a child process, restarting on change (czo workers:dev)',
      },
    },
    [options.startTargetName]: {
      executor: '@czo/nx:start',
      continuous: true,
      dependsOn: [options.buildTargetName],
      options: { ...layoutOptions },
      readyWhen: { signal: true },
      metadata: {
        technologies,
        description: `Run the built worker process ${options.outputDir}/server/workers/index.mjs (czo workers:start)`,
      },
    },
  } as Record<string, TargetConfiguration>
}

export const createNodes: CreateNodes<CzoNxPluginOptions> = [
  PROJECT_FILES_GLOB,
  (configFiles, rawOptions, context) => {
    const options = normalizePluginOptions(rawOptions)
    const fileSet = new Set(configFiles)
    let isWorkspacePackage: ((path: string) => boolean) | undefined
    const results: Array<readonly [string, CreateNodesResult]> = []
    for (const file of configFiles) {
      const projectRoot = dirname(file)
      if (basename(file) === 'package.json') {
        // A project.json next to it already stands for this project.
        if (fileSet.has(projectRoot === '.' ? 'project.json' : `${projectRoot}/project.json`)) continue
        isWorkspacePackage ??= packageJsonMatcher(context.workspaceRoot)
        if (!isWorkspacePackage(file)) continue
      }
      if (!isDirectory(join(context.workspaceRoot, projectRoot, options.workersDir))) continue
      results.push([file, {
        projects: {
          [projectRoot]: { targets: createWorkersTargets(projectRoot, options, context) },
        },
      }])
    }
    return results
  },
]

/** The same function under the name Nx 20-21 plugins exported. */
export const createNodesV2 = createNodes
