/**
 * Windows: the helper starts from PowerShell's `Start-Process -Verb RunAs` (the UAC prompt).
 * The launcher exits at once with 0 when the prompt was accepted; the helper then connects.
 */

/** How the refusal names this prompt. */
export const windowsUacPrompt = 'the Windows administrator prompt';

export function windowsUacCommand(runAsNode: readonly string[], execPath: string, script: string, channelDir: string): { command: string; args: string[] } {
  // PowerShell single quotes ('' inside); each argument also double-quoted for the new process's command line.
  const quoted = (s: string): string => `'${s.replace(/'/g, "''")}'`;
  const argList = [script, '--channel', channelDir].map((a) => quoted(`"${a}"`)).join(',');
  const env = runAsNode.length > 0 ? '$env:ELECTRON_RUN_AS_NODE=1; ' : '';
  return {
    command: 'powershell.exe',
    args: ['-NoProfile', '-NonInteractive', '-Command', `${env}Start-Process -FilePath ${quoted(execPath)} -ArgumentList ${argList} -Verb RunAs -WindowStyle Hidden`],
  };
}
