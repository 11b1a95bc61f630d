/** The built `_entry.mjs` of the worker output, resolved by the czo Nitro module. */
declare module '#czo/workers' {
  export const workers: { file: string, load(): Promise<Record<string, unknown>> }[]
}
