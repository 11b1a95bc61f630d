/**
 * Secrets never reach logs or error messages: every URL we print goes through here.
 */
const CREDENTIALS_IN_URL = /(\/\/[^:/@\s]*):([^@\s]*)@/g

/** `redis://user:secret@host` → `redis://user:****@host`, also for strings that are not valid URLs. */
export function redactUrl(value: string): string {
  return value.replace(CREDENTIALS_IN_URL, '$1:****@')
}

/** Removes every known secret from a message, for errors that embed client output. */
export function redactSecrets(message: string, secrets: ReadonlyArray<string | undefined>): string {
  let out = redactUrl(message)
  for (const secret of secrets) {
    if (secret && secret.length >= 3) out = out.split(secret).join('****')
  }
  return out
}
