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

const replaceClasses: readonly BackupClass[] = ['secrets', 'config', 'state'];

export function createReplaceHandler(kernel: KernelServices, devices: DeviceStore) {
  const backups = createBackupRunStore(kernel.db);
  return async (request: RequestOf<'recovery.replace'>): Promise<{ jobId: string }> => {
    const device = devices.get(request.deviceId);
    if (request.drive !== undefined) {
      throw new FieldkitError(appError('UNAVAILABLE', 'Replacing onto a drive (flashing the image the device ran) is not built yet.', 'Flash the image from Drives & Flash, boot the spare, then replace onto it: fieldkit replace DEVICE --onto ADDRESS.', 'drive'));
    }
    if (request.onto === undefined) throw new FieldkitError(appError('BAD_REQUEST', 'Say where the spare is (--onto its SSH address).', 'Boot the spare on the network and give its address.', 'onto'));
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
    const agentPrefix = device.link.kind === 'ssh' ? device.link.agentPrefix : '/opt/fieldkit-agent';
    const params: ReplaceParams = {
      dataDir: kernel.dataDir,
      deviceRef: device.id,
      deviceName: device.name,
      deviceId: device.agentDeviceId ?? newest.deviceId,
      pinnedHostKey: device.hostKeyFingerprint,
      agentVersion: runs.find((r) => r.agentVersion !== null)?.agentVersion ?? device.agentVersion,
      spare: { host: request.onto.host, port: request.onto.port ?? 22, username: request.onto.username ?? 'pi', agentPrefix },
      spareHostKey: request.spareHostKey,
      agentBundlePath: request.agentBundlePath ?? null,
      rotateCredentials: request.rotateCredentials === true,
      pointId: newest.jobId,
      classes: runs.map((r) => ({ class: r.class, resticId: r.snapshotId ?? '', repo: r.repo, time: r.endedMs, journalLastSeq: r.journalLastSeq })),
    };
    return { jobId: kernel.jobs.start('recovery.replace', params, secrets).id };
  };
}
