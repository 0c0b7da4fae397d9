/** Reading a /proc or /sys file, where a missing or unreadable file means "unknown" (null). */
import { readFileSync } from 'node:fs';

export function readText(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}
