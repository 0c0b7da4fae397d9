/** Linux: the helper starts through pkexec, which asks for an administrator's password (polkit). */

/** How the refusal names this prompt. */
export const pkexecPrompt = 'the administrator password prompt (pkexec)';

/** pkexec clears the environment: `env` sets what the helper needs on its command line. */
export function pkexecCommand(runAsNode: readonly string[], program: readonly string[]): { command: string; args: string[] } {
  return { command: 'pkexec', args: ['env', ...runAsNode, ...program] };
}
