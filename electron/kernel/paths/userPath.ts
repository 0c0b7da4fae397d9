/**
 * Paths as a technician types them. A shell expands `~` before a program sees it; a text
 * field in the app does not, so `~/Downloads/node-os.fkimg` would reach the service as a
 * relative path (and be refused) or as a folder literally named "~". Every handler that
 * accepts a path from a person passes it through here first.
 */
import { homedir } from 'node:os';
import path from 'node:path';

/**
 * `~` and `~/…` become this user's home; surrounding blanks (a pasted path) are dropped.
 * `~other/…` (another user's home) is left as typed: the service cannot look that up
 * portably, and the absolute-path check that follows says what to give instead.
 */
export function expandUserPath(typed: string, home: string = homedir()): string {
  const text = typed.trim();
  if (text === '~') return home;
  if (text.startsWith('~/') || text.startsWith(`~${path.sep}`)) return path.join(home, text.slice(2));
  return text;
}
