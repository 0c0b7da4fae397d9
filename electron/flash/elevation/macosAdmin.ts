/** macOS: the helper starts from an AppleScript `do shell script … with administrator privileges` (the system's password prompt). */
import { shellQuote } from '../../kernel/link/shellQuote.ts';

/** How the refusal names this prompt. */
export const macosAdminPrompt = 'the macOS administrator prompt';

/** The command line, shell-quoted, inside an AppleScript string (backslashes and double quotes escaped). */
export function macosAdminCommand(runAsNode: readonly string[], program: readonly string[]): { command: string; args: string[] } {
  const shell = ['/usr/bin/env', ...runAsNode, ...program].map(shellQuote).join(' ');
  const apple = shell.replace(/\\/g, '\\\\').replace(/"/g, '\\"');
  return { command: 'osascript', args: ['-e', `do shell script "${apple}" with administrator privileges`] };
}
