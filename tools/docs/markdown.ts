/**
 * Reads the code blocks and test directives of a Markdown page (the convention is described at
 * the top of docs/README.md).
 *
 * A fence's info string is `<lang> <words and key=value pairs>`: `ts file=server/workers/a.ts`,
 * `sh test exit=2`, `sh test background name=api ready="Listening on"`, `text output from=api`.
 * Values may be double-quoted. HTML comments `<!-- test: stop api exit=0 -->` are directives.
 */
import { readFileSync } from 'node:fs'

export interface Attributes {
  /** Bare words (`test`, `background`, `output`, `external`, `fragment`, `diagram`). */
  words: Set<string>
  /** `key=value` pairs. */
  values: Map<string, string>
}

export interface CodeBlock {
  kind: 'code'
  lang: string
  attrs: Attributes
  code: string
  /** 1-based line of the opening fence. */
  line: number
}

export interface Directive {
  kind: 'directive'
  /** First word after `test:` (`stop`, `sandbox`). */
  name: string
  args: Attributes
  line: number
}

export type Item = CodeBlock | Directive

export function parseAttributes(text: string): Attributes {
  const words = new Set<string>()
  const values = new Map<string, string>()
  for (const match of text.matchAll(/([\w-]+)(?:=("(?:[^"\\]|\\.)*"|\S+))?/g)) {
    const [, key, raw] = match as unknown as [string, string, string | undefined]
    if (raw === undefined) words.add(key)
    else values.set(key, raw.startsWith('"') ? JSON.parse(raw) as string : raw)
  }
  return { words, values }
}

/** The fenced blocks and directives of a Markdown text, in order. */
export function parseMarkdown(text: string): Item[] {
  const items: Item[] = []
  const lines = text.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!
    const fence = /^(\s*)(`{3,}|~{3,})(.*)$/.exec(line)
    if (fence) {
      const [, indent, marker, info] = fence as unknown as [string, string, string, string]
      const body: string[] = []
      const start = i + 1
      i++
      while (i < lines.length && !lines[i]!.trimStart().startsWith(marker)) {
        body.push(lines[i]!.startsWith(indent) ? lines[i]!.slice(indent.length) : lines[i]!)
        i++
      }
      const trimmed = info.trim()
      const space = trimmed.search(/\s/)
      const lang = space === -1 ? trimmed : trimmed.slice(0, space)
      const rest = space === -1 ? '' : trimmed.slice(space + 1)
      items.push({ kind: 'code', lang, attrs: parseAttributes(rest), code: `${body.join('\n')}\n`, line: start })
      continue
    }
    const directive = /^<!--\s*test:\s*([\w-]+)\s*(.*?)\s*-->\s*$/.exec(line)
    if (directive) {
      items.push({ kind: 'directive', name: directive[1]!, args: parseAttributes(directive[2]!), line: i + 1 })
    }
  }
  return items
}

export function readMarkdown(path: string): Item[] {
  return parseMarkdown(readFileSync(path, 'utf8'))
}

/** Shell languages: their blocks are commands. */
export const SHELL = new Set(['sh', 'bash', 'shell', 'console'])

/**
 * What a block is for. Every block must have a role, so that nothing that looks like a command
 * or a file escapes the test by accident.
 */
export type Role = 'file' | 'command' | 'output' | 'external' | 'fragment' | 'diagram'

export function roleOf(block: CodeBlock): Role | undefined {
  const { words, values } = block.attrs
  if (values.has('file')) return 'file'
  if (words.has('test')) return 'command'
  if (words.has('output')) return 'output'
  if (words.has('external')) return 'external'
  if (words.has('fragment')) return 'fragment'
  if (words.has('diagram')) return 'diagram'
  return undefined
}

/** Commands an `external` block may run: other systems' tools, never this project's. */
export const EXTERNAL_COMMANDS = new Set(['systemctl', 'journalctl', 'pm2', 'kubectl', 'npm', 'pnpm', 'sudo', 'cp', 'rsync'])
/** Words that make a line this project's command, which must be tested rather than external. */
const PROJECT_COMMANDS = /(?:^|[\s;&|(])(?:czo|nitro|nx|node|curl)(?:\s|$)/

/** Checks an `external` block; returns the problems found. */
export function checkExternal(block: CodeBlock): string[] {
  const problems: string[] = []
  for (const raw of block.code.split('\n')) {
    const line = raw.trim()
    if (line === '' || line.startsWith('#')) continue
    const words = line.split(/\s+/)
    const command = words[0] === 'sudo' ? words[1] ?? '' : words[0]!
    if (!EXTERNAL_COMMANDS.has(command)) {
      problems.push(`"${line}": ${command} is not another system's tool (${[...EXTERNAL_COMMANDS].join(', ')}); mark the block \`test\``)
    }
    else if (command === 'npm' || command === 'pnpm') {
      if (!/^p?npm\s+(?:install|add|i)\s/.test(line)) problems.push(`"${line}": only package installs may be external`)
    }
    else if (PROJECT_COMMANDS.test(line)) {
      problems.push(`"${line}" runs this project's command; mark the block \`test\``)
    }
  }
  return problems
}

/** `…` in an expected output line stands for any text on that line; whitespace matches any spacing. */
export function lineMatcher(expected: string): RegExp {
  const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
  // Spacing is not significant: `"id": "1"` matches both pretty and compact JSON.
  const parts = expected.trim().split('…').map(part => part.split(/\s+/).map(escape).join('\\s*'))
  return new RegExp(parts.join('.*'))
}

export function stripAnsi(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\x1B\[[0-9;]*[A-Za-z]/g, '')
}
