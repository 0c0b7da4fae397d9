/**
 * What a backup job will do before it runs: the device command for each class (derived
 * from the device's link, as the RPC command is), which classes a link can carry (a serial
 * console only the small ones, with a time estimate from its baud rate), and the size
 * estimate behind progress and ETA (the previous good snapshot of that device × class).
 */
import type { BackupClass } from '../../shared/backupStream.ts';
import type { Device } from '../../shared/devices.ts';
import { appError, FieldkitError } from '../../shared/errors.ts';
import { shellQuote } from '../kernel/link/shellQuote.ts';

/** Classes a serial console carries; the others wait for a network link. */
export const serialClasses: readonly BackupClass[] = ['config', 'secrets'];

/**
 * The command that writes one class's tar stream on stdout. It runs as root (`sudo -n`:
 * secrets and SSH host keys are root's, the journal the agent user's) and never prompts.
 */
export function backupStreamCommand(device: Device, backupClass: BackupClass, extraPaths: readonly string[] = []): string {
  // Paths the technician added to the class in the backup policy travel as --path.
  return agentCommand(device, [`backup-stream --class ${backupClass}`, ...extraPaths.map((p) => `--path ${shellQuote(p)}`)].join(' '));
}

/**
 * The command that prints each class's change token (agent/backup/changeToken.ts) as JSON:
 * all classes of the device in one command, so one exec, one sudo, one agent start.
 */
export function backupProbeCommand(device: Device, classes: readonly BackupClass[], extraPaths: Partial<Record<BackupClass, readonly string[]>>): string {
  const paths = classes.flatMap((c) => (extraPaths[c] ?? []).map((p) => `--path ${shellQuote(`${c}=${p}`)}`));
  return agentCommand(device, [`backup-probe --classes ${classes.join(',')}`, ...paths, '--json'].join(' '));
}

/** `fieldkit-agent <args>` as root on the device, by its link (derived as the RPC command is); restore runs its commands so too. */
export function agentCommand(device: Device, args: string): string {
  if (device.link.kind === 'local') {
    const command = device.link.agentCommand.trim();
    if (!/\srpc$/.test(command)) {
      throw new FieldkitError(
        appError('BAD_REQUEST', `${device.name}'s agent command does not end in \`rpc\`, so fieldkit cannot tell how to run its backup commands.`, "Set the device's agent command to `<agent> rpc` (Devices → edit)."),
      );
    }
    return `${command.replace(/\srpc$/, '')} ${args}`;
  }
  const agent = shellQuote(`${device.link.agentPrefix}/current/bin/fieldkit-agent`);
  return `if [ -x ${agent} ]; then exec sudo -n ${agent} ${args}; else exec sudo -n fieldkit-agent ${args}; fi`;
}

/**
 * Seconds a serial console needs for `bytes` (8N1: ten bits a byte), with a margin for the
 * framing; null when the size is not known yet.
 */
export function serialSecondsFor(bytes: number | null, baudRate: number): number | null {
  if (bytes === null) return null;
  return Math.ceil(((bytes * 10) / baudRate) * 1.25);
}

/** Why a class is not taken over this link, or null when it is. */
export function skipReason(device: Device, backupClass: BackupClass): string | null {
  if (device.link.kind === 'serial' && !serialClasses.includes(backupClass)) {
    return `the ${backupClass} class is too big for a serial console — use the network (connect ${device.name} over SSH and back it up again)`;
  }
  return null;
}
