/**
 * `fieldkit slot-update`, the real CLI in its own process, against a data folder that knows
 * the virtual A/B Pi (test/support/virtualSite/firmware.ts) the way a technician sets it up:
 * added over SSH, host key scanned and pinned, fieldkit's key authorised, the image
 * signer's key trusted. The Pi's firmware is played by the harness, so the CLI runs with the
 * virtual Pi's firmware files as the app's slot platform (test/support/virtualPiCli.ts).
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAppServices } from '../../electron/app/appServices.ts';
import { packImage } from '../../electron/kernel/image/packImage.ts';
import { loadOrCreateAppSshKey } from '../../electron/kernel/link/appSshKey.ts';
import { generateSecretKey } from '../../electron/kernel/signing/minisign.ts';
import { formatPublicKey, publicKeyOf } from '../../electron/kernel/signing/minisignFormat.ts';
import { SlotUpdateOutcomeSchema } from '../../shared/slots.ts';
import { runCliProcess, startCliProcess } from '../support/runCliProcess.ts';
import { virtualPiCliEntry } from '../support/virtualPiCli.ts';
import { makeTempDir } from '../support/tempDir.ts';
import { startVirtualAbPi, type VirtualAbPi } from '../support/virtualSite/firmware.ts';
import { makeAbDisk, type SlotBehaviour } from '../support/virtualSite/firmwareDisk.ts';

const tmp = makeTempDir('fieldkit-slot-cli-');
const at = (name: string) => path.join(tmp.path, name);
const dataDir = at('laptop-data');
const key = generateSecretKey();
let pi: VirtualAbPi;
let deviceId = '';
let localId = '';
let dataSha = '';

async function image(version: string, signer = key, behaviour: SlotBehaviour = 'good'): Promise<string> {
  await makeAbDisk(at(`${version}.img`), { version, behaviour });
  await packImage(at(`${version}.img`), at(`${version}.fkimg`), { product: 'fieldkit-os', version, sequence: 1, boards: ['pi4', 'pi5'], expiresDays: 30, key: signer });
  return at(`${version}.fkimg`);
}

function fieldkit(args: string[]) {
  return runCliProcess([JSON.stringify(pi.platform), '--data-dir', dataDir, ...args], {}, virtualPiCliEntry);
}

async function runningSlot(): Promise<string> {
  const r = await pi.exec('cat /etc/fieldkit-slot; od -An -tu4 --endian=big /run/fieldkit-firmware/device-tree/chosen/bootloader/partition');
  return r.stdout.trim().replace(/\s+/g, ' ');
}

async function jobCount(): Promise<number> {
  const list = await fieldkit(['--json', 'jobs', 'list']);
  return (JSON.parse(list.stdout) as { jobs: unknown[] }).jobs.length;
}

beforeAll(async () => {
  await makeAbDisk(at('disk.img'), { version: '1.0', dataMarker: 'pi-031' });
  pi = await startVirtualAbPi({ disk: at('disk.img'), name: 'abpi-cli' });
  const appKey = loadOrCreateAppSshKey(dataDir);
  await pi.exec(`echo '${appKey.publicKey}' >> ~/.ssh/authorized_keys`);
  const services = await createAppServices({ dataDir, version: '0.0.0-test', demo: false });
  try {
    await services.handlers['trust.import']({ publicKey: formatPublicKey(publicKeyOf(key)), label: 'os image key' });
    const { device } = await services.handlers['devices.add']({ name: 'pi-031', site: 'depot', link: { kind: 'ssh', host: pi.host, port: pi.sshPort, username: pi.user, agentPrefix: '/opt/fieldkit-agent' } });
    const scan = await services.handlers['devices.scanHostKey']({ id: device.id });
    await services.handlers['devices.trustHostKey']({ id: device.id, fingerprint: scan.fingerprint });
    deviceId = device.id;
    localId = (await services.handlers['devices.add']({ name: 'this-laptop', site: 'depot', link: { kind: 'local', agentCommand: 'true' } })).device.id;
  } finally {
    await services.close();
  }
  dataSha = pi.partitionSha256(6);
}, 120_000);

afterAll(async () => {
  await pi.stop();
  tmp.remove();
});

describe('fieldkit slot-update on a virtual A/B Pi', () => {
  it('refuses an image from an untrusted signer and an unknown device before any job exists', async () => {
    const stranger = await image('9.9-stranger', generateSecretKey());
    const before = [2, 3, 4, 5].map((i) => pi.partitionSha256(i));
    const untrusted = await fieldkit(['slot-update', deviceId, stranger]);
    expect(untrusted.code).toBe(1);
    expect(untrusted.stderr).toMatch(/error: .*signed by key/);
    expect(untrusted.stderr).toMatch(/what to do: /);
    const unknown = await fieldkit(['slot-update', 'dev_nosuch1', stranger]);
    // A device argument that names no device is a wrong command line, as in every command.
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/No device is called dev_nosuch1/);
    const local = await fieldkit(['slot-update', localId, stranger]);
    expect(local.code).toBe(1);
    expect(local.stderr).toMatch(/not SSH/);
    expect(await jobCount()).toBe(0);
    expect([2, 3, 4, 5].map((i) => pi.partitionSha256(i))).toEqual(before);
  }, 40_000);

  it('moves the Pi from slot A to B and back to A with a second image, committing each', async () => {
    const first = await fieldkit(['--json', 'slot-update', deviceId, await image('2.0'), '--boot-timeout', '60']);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    const lines = first.stdout.split('\n');
    const events = lines.filter((l) => l.startsWith('{"type"')).map((l) => JSON.parse(l) as { type: string; progress?: { phase: string; bytesDone: number } });
    const final = JSON.parse(lines.filter((l) => !l.startsWith('{"type"')).join('\n')) as { state: string; outcome: unknown };
    expect(final.state).toBe('done');
    const outcome = SlotUpdateOutcomeSchema.parse(final.outcome);
    expect(outcome).toMatchObject({ status: 'committed', fromSlot: 'a', toSlot: 'b', endSlot: 'b', imageVersion: 'fieldkit-os 2.0' });
    expect(outcome.transcript.some((t) => t.step === 'commit')).toBe(true);
    // Progress counted the bytes written; a log line said what each step was.
    expect(events.some((e) => e.type === 'progress' && e.progress?.phase === 'writing the inactive slot' && e.progress.bytesDone === outcome.bytesSent)).toBe(true);
    expect(events.filter((e) => e.type === 'log').length).toBeGreaterThanOrEqual(5);
    expect(await runningSlot()).toBe('2.0 3');

    // By name this time, human output.
    const second = await fieldkit(['slot-update', 'pi-031', await image('3.0')]);
    expect(second.code).toBe(0);
    expect(second.stdout).toMatch(/outcome: committed/);
    expect(second.stdout).toMatch(/slots: B → A, now on A/);
    expect(await runningSlot()).toBe('3.0 2');
    expect(pi.boots.at(-1)).toMatchObject({ tryboot: true, bootPartition: 2, slotVersion: '3.0' });
    // Committed: a plain reset keeps slot A with 3.0.
    await pi.powerCycle();
    expect(pi.boots.at(-1)).toMatchObject({ tryboot: false, bootPartition: 2, slotVersion: '3.0' });
    expect(pi.partitionSha256(6)).toBe(dataSha);
  }, 90_000);

  it('--rehearse boots the new slot on trial and returns to the old one, exit 0', async () => {
    const rehearsal = await fieldkit(['slot-update', deviceId, await image('4.0'), '--rehearse']);
    expect(rehearsal.code).toBe(0);
    expect(rehearsal.stdout).toMatch(/outcome: rehearsed/);
    expect(rehearsal.stdout).toMatch(/now on A/);
    expect(pi.boots.at(-2)).toMatchObject({ tryboot: true, bootPartition: 3, slotVersion: '4.0' });
    expect(pi.boots.at(-1)).toMatchObject({ tryboot: false, bootPartition: 2, slotVersion: '3.0' });
    expect(await runningSlot()).toBe('3.0 2');
    const { jobs } = JSON.parse((await fieldkit(['--json', 'jobs', 'list'])).stdout) as { jobs: { kind: string; state: string; title: string }[] };
    expect(jobs.filter((j) => j.kind === 'slots.update').map((j) => j.state)).toEqual(['done', 'done', 'done']);
    expect(jobs[0]?.title).toMatch(/^Rehearse slot update of pi-031 to 4\.0\.fkimg/);
  }, 60_000);

  it('an image whose services fail is not committed: exit 1 with the reason; a second update of the busy device is refused', async () => {
    const bad = await image('5.0-bad', key, 'failing');
    const child = startCliProcess([JSON.stringify(pi.platform), '--data-dir', dataDir, 'slot-update', deviceId, bad], {}, virtualPiCliEntry);
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    // Once the job runs, the same device is busy.
    const deadline = Date.now() + 20_000;
    while (!/writing the inactive slot|checking the device/.test(stderr) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const [second, rollout] = await Promise.all([fieldkit(['slot-update', deviceId, at('3.0.fkimg')]), fieldkit(['rollout', at('3.0.fkimg'), '--devices', 'pi-031'])]);
    expect(second.code).toBe(1);
    expect(second.stderr).toMatch(/pi-031 is already being updated \(job_/);
    expect(rollout.code).toBe(1);
    expect(rollout.stderr).toMatch(/Slot update of pi-031 to 5\.0-bad\.fkimg is running/);
    expect(await exited).toBe(1);
    expect(stderr).toMatch(/outcome: rolled-back/);
    expect(stderr).toMatch(/not committed; the device is back on slot [AB]: .*failed units: fieldkit-inference\.service/);
    // Said once: not by the job's log line and again by the outcome.
    expect(stderr.match(/failed units: fieldkit-inference\.service/g)).toHaveLength(1);
    expect(stderr).toMatch(/what to do: /);
    // The newest trial boot was the bad image, and every boot since is the old slot, normally:
    // under load the Pi may be rebooted back more than once, which must never commit the try.
    const lastTry = pi.boots.findLastIndex((b) => b.tryboot);
    expect(pi.boots[lastTry]).toMatchObject({ tryboot: true, slotVersion: '5.0-bad' });
    expect(pi.boots.slice(lastTry + 1).length).toBeGreaterThan(0);
    for (const boot of pi.boots.slice(lastTry + 1)) expect(boot).toMatchObject({ tryboot: false, slotVersion: '3.0' });
    expect(await runningSlot()).toBe('3.0 2');
  }, 60_000);

  it('rolls an OS image out as slot updates with the rollout engine: batches, per-device outcome and transcript', async () => {
    const img = await image('6.0');
    const inspect = await fieldkit(['--json', 'bundle', 'inspect', img]);
    expect(inspect.code).toBe(0);
    expect(JSON.parse(inspect.stdout)).toMatchObject({ bundle: { kind: 'os-image', version: '6.0', signature: { status: 'trusted', signer: 'os image key' }, problems: [] } });
    const run = await fieldkit(['--json', 'rollout', img, '--devices', 'pi-031']);
    expect(run.code).toBe(0);
    const last = run.stdout.trim().split('\n').at(-1) ?? '';
    const { rollout } = JSON.parse(last) as { rollout: { state: string; bundleKind: string; devices: { deviceName: string; status: string; fromVersion: string | null; toVersion: string; bytesSent: number }[] } };
    expect(rollout).toMatchObject({ state: 'completed', bundleKind: 'os-image' });
    expect(rollout.devices).toMatchObject([{ deviceName: 'pi-031', status: 'updated', fromVersion: 'slot A', toVersion: 'fieldkit-os 6.0' }]);
    expect(rollout.devices[0]?.bytesSent).toBeGreaterThan(0);
    expect(await runningSlot()).toBe('6.0 3');
    const shown = await fieldkit(['rollout', 'show', (JSON.parse(last) as { rollout: { id: string } }).rollout.id, '--transcript', 'pi-031']);
    expect(shown.stdout).toMatch(/commit/);
  }, 60_000);
});
