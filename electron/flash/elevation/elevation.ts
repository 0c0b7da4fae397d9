/**
 * How a flash job's worker starts the flash helper with administrator rights: not at all
 * when it is root already, else one way per OS (pkexec.ts, macosAdmin.ts, windowsUac.ts).
 */
import { appError, FieldkitError } from '../../../shared/errors.ts';
import { macosAdminCommand, macosAdminPrompt } from './macosAdmin.ts';
import { pkexecCommand, pkexecPrompt } from './pkexec.ts';
import { windowsUacCommand, windowsUacPrompt } from './windowsUac.ts';

export type Elevation = 'none' | 'pkexec' | 'osascript' | 'uac';

/** How this process can start an administrator helper: not at all needed when it is root already. */
export function elevationFor(platform: NodeJS.Platform = process.platform, uid: number | null = process.getuid?.() ?? null): Elevation {
  if (uid === 0) return 'none';
  if (platform === 'darwin') return 'osascript';
  if (platform === 'win32') return 'uac';
  return 'pkexec';
}

/** The command line that starts the helper with `elevation`. */
export function helperCommand(elevation: Elevation, execPath: string, script: string, channelDir: string): { command: string; args: string[] } {
  // Electron's binary runs as plain Node only with ELECTRON_RUN_AS_NODE; pkexec and the
  // macOS prompt clear the environment, so it goes on the command line.
  const runAsNode = 'electron' in process.versions ? ['ELECTRON_RUN_AS_NODE=1'] : [];
  const program = [execPath, script, '--channel', channelDir];
  switch (elevation) {
    case 'none':
      return { command: execPath, args: [script, '--channel', channelDir] };
    case 'pkexec':
      return pkexecCommand(runAsNode, program);
    case 'osascript':
      return macosAdminCommand(runAsNode, program);
    case 'uac':
      return windowsUacCommand(runAsNode, execPath, script, channelDir);
  }
}

/** The refusal when the helper was not started: nothing was written. */
export function elevationRefused(elevation: Elevation, detail: string): FieldkitError {
  const how = elevation === 'pkexec' ? pkexecPrompt : elevation === 'osascript' ? macosAdminPrompt : elevation === 'uac' ? windowsUacPrompt : 'the flash helper';
  return new FieldkitError(
    appError('PERMISSION_DENIED', `Writing drives needs administrator rights, and ${how} did not start the flash helper: ${detail}.`, 'Start the flash again and allow the administrator prompt; nothing was written.'),
  );
}
