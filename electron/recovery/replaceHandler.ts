/**
 * recovery.replace: checks what a replace needs before anything runs — the device, a good
 * backup of its secrets (its identity and host keys), the spare's address — resolves the
 * newest good backup of each class into the job's restore point, and starts the job with the
 * repositories' passwords as job secrets.
 */
import type { BackupClass } from '../../shared/backupStream.ts';
import { appError, FieldkitError } from '../../shared/errors.ts';
import type { RequestOf } from '../../shared/api.ts';
import { createBackupRunStore, passwordSecret, type BackupRunRow } from '../backup/index.ts';
import type { DeviceStore } from '../devices/index.ts';
import type { KernelServices } from '../kernel/domain.ts';
import type { ReplaceParams } from './replaceParams.ts';
import { defaultBootWaitSeconds, replaceFlashFor } from './replaceFlashParams.ts';

const replaceClasses: readonly BackupClass[] = ['secrets', 'config', 'state'];

export function createReplaceHandler(kernel: KernelServices, devices: DeviceStore) {
  const backups = createBackupRunStore(kernel.db);
  return async (request: RequestOf<'recovery.replace'>): Promise<{ jobId: string }> => {
    const device = devices.get(request.deviceId);
    if (request.onto === undefined) {
      const what = request.drive === undefined ? 'Say where the spare is (--onto its SSH address).' : 'Say where the spare will answer once booted from the flashed drive (--onto its SSH address).';
      throw new FieldkitError(appError('BAD_REQUEST', what, 'Give the address the spare has (or will have) on the network: [user@]host[:port].', 'onto'));
    }
    if (request.drive === undefined && request.spareHostKey === undefined) {
      throw new FieldkitError(appError('BAD_REQUEST', "Give the running spare's SSH host key as you checked it (--spare-host-key SHA256:…).", "Read it on the spare's console: ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub.", 'spareHostKey'));
    }
    const runs = replaceClasses.map((c) => backups.lastGood(device.id, c)).filter((r): r is BackupRunRow => r !== null && r.snapshotId !== null);
    if (!runs.some((r) => r.class === 'secrets')) {
      throw new FieldkitError(appError('CONFLICT', `${device.name} has no good backup of its secrets (identity, SSH host keys): a spare cannot become it.`, 'A device that is still alive: back it up (fieldkit backup DEVICE --class secrets). A dead one without it must be provisioned anew.', 'deviceId'));
    }
    const newest = runs.reduce((a, b) => (b.endedMs > a.endedMs ? b : a));
    const secrets: Record<string, string> = {};
    for (const r of runs) {
      const name = passwordSecret(r.repo);
      const password = await kernel.secrets.get(name);
      if (password === null) throw new FieldkitError(appError('CONFLICT', `The password of the repository holding ${device.name}'s ${r.class} (${r.repo.location}) is not on this laptop.`, 'Enter the repository password in Backups (its recovery key), then replace again.'));
      secrets[name] = password;
    }
    const imageVersion = runs.find((r) => r.imageVersion !== null)?.imageVersion ?? null;
    const flash = request.drive === undefined ? null : await replaceFlashFor(kernel, { device, deviceId: device.agentDeviceId ?? newest.deviceId, imageVersion, drive: request.drive, bootWaitSeconds: request.bootWaitSeconds ?? defaultBootWaitSeconds });
    const agentPrefix = device.link.kind === 'ssh' ? device.link.agentPrefix : '/opt/fieldkit-agent';
    const params: ReplaceParams = {
      dataDir: kernel.dataDir,
      deviceRef: device.id,
      deviceName: device.name,
      deviceId: device.agentDeviceId ?? newest.deviceId,
      pinnedHostKey: device.hostKeyFingerprint,
      agentVersion: runs.find((r) => r.agentVersion !== null)?.agentVersion ?? device.agentVersion,
      spare: { host: request.onto.host, port: request.onto.port ?? 22, username: request.onto.username ?? 'pi', agentPrefix },
      spareHostKey: request.spareHostKey ?? null,
      flash,
      agentBundlePath: request.agentBundlePath ?? null,
      rotateCredentials: request.rotateCredentials === true,
      pointId: newest.jobId,
      classes: runs.map((r) => ({ class: r.class, resticId: r.snapshotId ?? '', repo: r.repo, time: r.endedMs, journalLastSeq: r.journalLastSeq })),
    };
    return { jobId: kernel.jobs.start('recovery.replace', params, secrets).id };
  };
}
