/**
 * The one POSIX shell quoting of the app: every command the laptop builds for a shell —
 * on a Pi over SSH or its serial console, in a first-boot script, behind the macOS
 * administrator prompt, in the demo site's local agents — quotes its arguments with this.
 */

/** Quotes one argument for a POSIX shell: single quotes, each `'` inside written as `'\''`. */
export function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}
