/**
 * OS slot updates on a virtual A/B Pi whose firmware is played by the harness
 * (test/support/virtualSite/firmware.ts): autoboot.txt on the bootsel FAT, a one-shot
 * tryboot flag, loop devices as /dev/mmcblk0p*. Every case runs the real engine over SSH.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packImage } from '../../electron/kernel/image/packImage.ts';
import { connectSsh } from '../../electron/kernel/link/sshLink.ts';
import { hostKeyFingerprint } from '../../electron/kernel/link/hostKeyFingerprint.ts';
import type { Link } from '../../electron/kernel/link/linkApi.ts';
import { generateSecretKey } from '../../electron/kernel/signing/minisign.ts';
import { publicKeyOf } from '../../electron/kernel/signing/minisignFormat.ts';
import { listUstar } from '../../electron/kernel/signing/ustarArchive.ts';
import { slotUpdate, type SlotUpdateOptions } from '../../electron/deploy/slots/slotUpdate.ts';
import { makeTempDir } from '../support/tempDir.ts';
import { startVirtualAbPi, type VirtualAbPi } from '../support/virtualSite/firmware.ts';
import { makeAbDisk, type SlotBehaviour } from '../support/virtualSite/firmwareDisk.ts';

const tmp = makeTempDir('fieldkit-slot-update-');
const at = (name: string) => `${tmp.path}/${name}`;
const key = generateSecretKey();
const trustedKeys = [publicKeyOf(key)];
let pi: VirtualAbPi;
let dataSha = '';

async function image(version: string, behaviour: SlotBehaviour = 'good'): Promise<string> {
  await makeAbDisk(at(`${version}.img`), { version, behaviour });
  await packImage(at(`${version}.img`), at(`${version}.fkimg`), { product: 'fieldkit-os', version, sequence: 1, boards: ['pi4', 'pi5'], expiresDays: 30, key });
  return at(`${version}.fkimg`);
}

async function openLink(): Promise<Link> {
  return connectSsh({
    target: { host: pi.host, port: pi.sshPort, username: pi.user },
    appKey: { privateKey: readFileSync(pi.privateKeyPath, 'utf8'), publicKey: pi.publicKey, path: pi.privateKeyPath },
    hostKey: { pinned: hostKeyFingerprint(Buffer.from(pi.hostKeyPublic.split(' ')[1] ?? '', 'base64')) },
    timeoutMs: 3000,
  });
}

function update(imagePath: string, extra: Partial<SlotUpdateOptions> = {}) {
  const t0 = Date.now();
  return slotUpdate({ openLink, imagePath, trustedKeys, bootTimeoutMs: 30_000, platform: pi.platform, onTranscript: process.env.SLOT_DEBUG === undefined ? undefined : (e) => {
    console.log('DBG', Date.now() - t0, e.step, e.exitCode, e.command.slice(0, 100), '|', e.output.slice(0, 200));
  }, ...extra });
}

async function runningSlot(): Promise<string> {
  const r = await pi.exec('cat /etc/fieldkit-slot; tr -d "\\0" < /run/fieldkit-firmware/device-tree/model >/dev/null; od -An -tu4 --endian=big /run/fieldkit-firmware/device-tree/chosen/bootloader/partition');
  return r.stdout.trim().replace(/\s+/g, ' ');
}

beforeAll(async () => {
  await makeAbDisk(at('disk.img'), { version: '1.0', dataMarker: 'pi-017' });
  pi = await startVirtualAbPi({ disk: at('disk.img') });
  await pi.exec('sudo -n mkdir -p /var/lib/fieldkit-agent && echo journal-before | sudo -n tee /var/lib/fieldkit-agent/journal.txt');
  dataSha = pi.partitionSha256(6);
}, 120_000);

afterAll(async () => {
  await pi.stop();
  tmp.remove();
});

describe('slot update on a virtual A/B Pi', () => {
  it('refuses a tampered image before anything is written', async () => {
    const good = await image('2.0');
    const bytes = readFileSync(good);
    const payload = (await listUstar(good, 'x')).at(-1);
    if (payload === undefined) throw new Error('no payload');
    const flip = payload.offset + Math.floor(payload.size / 2);
    bytes[flip] = (bytes[flip] ?? 0) ^ 0xff;
    writeFileSync(at('tampered.fkimg'), bytes);
    const before = [2, 3, 4, 5].map((i) => pi.partitionSha256(i));
    const bootsBefore = pi.boots.length;
    const outcome = await update(at('tampered.fkimg'));
    expect(outcome.status).toBe('refused');
    expect(outcome.error?.code).toBe('VERIFICATION_FAILED');
    expect(outcome.transcript.filter((t) => t.step !== 'verify')).toEqual([]);
    expect([2, 3, 4, 5].map((i) => pi.partitionSha256(i))).toEqual(before);
    expect(pi.boots.length).toBe(bootsBefore);
  });

  it('commits a good image: A → B, then B → A with a second image', async () => {
    const bootsBefore = pi.boots.length;
    const first = await update(at('2.0.fkimg'));
    // The harness records a boot once systemd says running; the engine may finish first.
    await pi.waitForBoots(bootsBefore + 1);
    expect(first.error).toBeUndefined();
    expect(first).toMatchObject({ status: 'committed', fromSlot: 'a', toSlot: 'b', endSlot: 'b' });
    // No agent on this Pi: systemd's view alone, and the transcript says so.
    expect(first.transcript.map((t) => t.command)).toContain('agent not installed: agent gates skipped');
    expect(pi.boots.at(-1)).toMatchObject({ tryboot: true, bootPartition: 3, slotVersion: '2.0' });
    expect(await runningSlot()).toBe('2.0 3');
    // Committed: a plain reset keeps slot B.
    await pi.powerCycle();
    expect(pi.boots.at(-1)).toMatchObject({ tryboot: false, bootPartition: 3, slotVersion: '2.0' });

    const second = await update(await image('3.0'));
    expect(second).toMatchObject({ status: 'committed', fromSlot: 'b', toSlot: 'a', endSlot: 'a' });
    expect(await runningSlot()).toBe('3.0 2');
    expect(pi.partitionSha256(6)).toBe(dataSha);
    expect((await pi.exec('cat /var/lib/fieldkit-agent/journal.txt')).stdout).toBe('journal-before\n');
  }, 60_000);

  it('does not commit an image whose services fail, and the device is back on the old slot', async () => {
    const bootsBefore = pi.boots.length;
    const outcome = await update(await image('4.0-bad', 'failing'));
    await pi.waitForBoots(bootsBefore + 2); // the trial, and the boot back
    expect(outcome).toMatchObject({ status: 'rolled-back', fromSlot: 'a', toSlot: 'b', endSlot: 'a' });
    expect(outcome.error?.message).toMatch(/failed units: fieldkit-inference\.service/);
    expect(pi.boots.at(-2)).toMatchObject({ tryboot: true, slotVersion: '4.0-bad' });
    expect(pi.boots.at(-1)).toMatchObject({ tryboot: false, bootPartition: 2, slotVersion: '3.0' });
    expect(await runningSlot()).toBe('3.0 2');
  }, 60_000);

  it('reports a device that never returns, within the boot timeout; a power cycle brings the old slot back', async () => {
    const started = Date.now();
    const outcome = await update(await image('5.0-panic', 'panic'), { bootTimeoutMs: 6000 });
    expect(outcome.status).toBe('not-returned');
    expect(outcome.error?.code).toBe('TIMEOUT');
    expect(outcome.error?.hint).toMatch(/Power-cycle/);
    expect(Date.now() - started).toBeLessThan(25_000);
    expect(pi.boots.at(-1)).toMatchObject({ tryboot: true, outcome: 'panicked', slotVersion: '5.0-panic' });
    await pi.powerCycle();
    expect(pi.boots.at(-1)).toMatchObject({ tryboot: false, bootPartition: 2, outcome: 'booted', slotVersion: '3.0' });
  }, 60_000);

  it('rehearses: the new slot boots on trial, is not committed, and the device returns to the old slot', async () => {
    const bootsBefore = pi.boots.length;
    const outcome = await update(await image('6.0'), { rehearse: true });
    await pi.waitForBoots(bootsBefore + 2); // the trial, and the boot back
    expect(outcome).toMatchObject({ status: 'rehearsed', fromSlot: 'a', toSlot: 'b', endSlot: 'a' });
    expect(pi.boots.at(-2)).toMatchObject({ tryboot: true, bootPartition: 3, slotVersion: '6.0' });
    expect(pi.boots.at(-1)).toMatchObject({ tryboot: false, bootPartition: 2, slotVersion: '3.0' });
    expect((await pi.exec('sudo -n env MTOOLS_SKIP_CHECK=1 mtype -i /dev/mmcblk0p1 ::autoboot.txt')).stdout).toBe('[all]\ntryboot_a_b=1\nboot_partition=2\n');
    expect(pi.partitionSha256(6)).toBe(dataSha);
  }, 60_000);
});
