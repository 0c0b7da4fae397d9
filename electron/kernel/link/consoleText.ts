/**
 * Cleaning what a serial console prints: terminal escapes (colour, bracketed paste,
 * titles), carriage returns, and kernel messages that the console interleaves with
 * command output. Pure functions, tested against real captures.
 */

// CSI (ESC [ … final), OSC (ESC ] … BEL or ESC \), and two-byte escapes (ESC =, ESC >, …).
// eslint-disable-next-line no-control-regex -- matching terminal control bytes is the point
const escapes = /\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]/g;

/** printk lines: `[   12.345678] usb 1-1: …`, optionally after a `<6>` level prefix. */
const kernelLine = /^(?:<\d>)?\[\s*\d+\.\d+\] .*$/;

export function stripEscapes(text: string): string {
  return text.replace(escapes, '');
}

/** Escapes and CRs removed, kernel message lines dropped; line structure kept. */
export function cleanConsoleText(text: string): string {
  return stripEscapes(text)
    .replace(/\r+\n/g, '\n')
    .replace(/\r/g, '')
    .split('\n')
    .filter((line) => !kernelLine.test(line))
    .join('\n');
}
