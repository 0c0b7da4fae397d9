/**
 * First-boot identity on the real A/B test image (GPT and MBR), as a file copy and on a
 * zram drive: the files land in boot A's FAT partition, fsck.fat -n finds it clean, mtools
 * reads the exact bytes at the partition offset, a second run replaces rather than
 * duplicates, and no byte outside boot A changes.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { constants, copyFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestImage, testImageSize } from '../../build/make-test-image.ts';
import { openDevice } from '../../electron/flash/fat/blockIo.ts';
import { FatVolume } from '../../electron/flash/fat/fatVolume.ts';
import { applyFirstBoot, bootPartition, firstBootKind, firstrunHook, readDeviceLayout, type ApplyFirstBootOptions } from '../../electron/flash/firstBoot.ts';
import { AgentConfigSchema } from '../../shared/agentConfig.ts';
import { isFieldkitError } from '../../shared/errors.ts';
import { FlashIdentitySchema } from '../../shared/flash.ts';
import type { ImageManifest, PartitionLayout } from '../../shared/image.ts';
import { expectFsckClean, mdir, mtype } from '../support/fatTools.ts';
import { makeTempDir } from '../support/tempDir.ts';
import { runCliProcess } from '../support/runCliProcess.ts';
import { createZram, type ZramDevice } from '../support/zram.ts';
import { readUnverifiedManifest } from '../../electron/kernel/image/verifyImage.ts';
import { readBytes } from '../support/readBytes.ts';

const dir = makeTempDir('fieldkit-firstboot-');
const at = (name: string): string => path.join(dir.path, name);
const devices: ZramDevice[] = [];
const appKey = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFieldkitAppKeyForTestsOnly000000000000000 fieldkit-app';
const techKey = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAITechnicianKeyForTestsOnly0000000000000 tech@laptop';
const identity = FlashIdentitySchema.parse({ deviceId: 'pi-0042', hostname: 'cam-north-3', site: 'North gate', sshPublicKeys: [techKey], agentConfig: { model_version: 'yolo-7', ingest: { port: 9000 } } });

beforeAll(async () => {
  await makeTestImage(at('gpt.img'), 'gpt');
  await makeTestImage(at('mbr.img'), 'mbr');
}, 30_000);
afterAll(async () => {
  for (const d of devices) await d.remove();
  dir.remove();
});

function readRange(file: string, offset: number, length: number): Buffer {
  return readBytes(file, offset, length);
}

/** SHA-256 of everything on `device` outside [start, end): the other partitions, tables and gaps. */
function hashOutside(device: string, start: number, end: number, total: number): string {
  return createHash('sha256').update(readRange(device, 0, start)).update(readRange(device, end, total - end)).digest('hex');
}

/** An mdir line of a file that has only its 8.3 entry (`cmdline  txt   19 …`). */
function shortLine(name: string): RegExp {
  const [base = '', ext = ''] = name.split('.');
  const escape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\-]/g, '\\$&');
  return new RegExp(`^${escape(base)}\\s+${escape(ext)}\\s+\\d`, 'i');
}

async function caught(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a refusal');
}

/** Applies twice and checks everything the tools can see; returns the boot partition's offset. */
async function applyAndCheck(device: string, options: Omit<ApplyFirstBootOptions, 'device' | 'identity' | 'appSshPublicKey'>, total: number): Promise<{ offset: number; names: string[] }> {
  const boot = bootPartition(options.layout, device);
  const outside = hashOutside(device, boot.start, boot.start + boot.size, total);
  const kernelBefore = mtype(device, boot.start, 'kernel8.img');
  const first = await applyFirstBoot({ device, identity, appSshPublicKey: appKey, ...options });
  const second = await applyFirstBoot({ device, identity, appSshPublicKey: appKey, ...options });
  expect(second.map((f) => [f.name, f.sha256])).toEqual(first.map((f) => [f.name, f.sha256]));
  expect(hashOutside(device, boot.start, boot.start + boot.size, total)).toBe(outside);
  expectFsckClean(device, boot.start, boot.size, dir.path);
  const listing = mdir(device, boot.start);
  for (const file of first) {
    const bytes = mtype(device, boot.start, file.name);
    expect(bytes.length).toBe(file.bytes);
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(file.sha256);
    // Each name once, long names shown: a second run replaced, it did not add.
    expect(listing.split('\n').filter((line) => line.endsWith(` ${file.name}`) || shortLine(file.name).test(line))).toHaveLength(1);
  }
  expect(mtype(device, boot.start, 'kernel8.img').equals(kernelBefore)).toBe(true);

  const written = JSON.parse(mtype(device, boot.start, 'fieldkit-identity.json').toString()) as unknown;
  expect(written).toEqual({ device_id: 'pi-0042', hostname: 'cam-north-3', site: 'North gate' });
  const agent = AgentConfigSchema.parse(JSON.parse(mtype(device, boot.start, 'fieldkit-agent.json').toString()));
  expect([agent.device_id, agent.site, agent.model_version, agent.ingest.port]).toEqual(['pi-0042', 'North gate', 'yolo-7', 9000]);
  expect(mtype(device, boot.start, 'fieldkit-authorized_keys').toString()).toBe(`${appKey}\n${techKey}\n`);
  return { offset: boot.start, names: first.map((f) => f.name) };
}

describe('applyFirstBoot on the A/B test image', () => {
  it('cloud-init into boot A of a GPT image file', async () => {
    const device = at('gpt-copy.img');
    copyFileSync(at('gpt.img'), device);
    const layout = await readDeviceLayout(device);
    expect(bootPartition(layout, device).role).toBe('boot_a');
    const { offset, names } = await applyAndCheck(device, { layout, customisation: 'cloud-init', user: 'fieldtech' }, testImageSize);
    expect(names).toEqual(['fieldkit-identity.json', 'fieldkit-agent.json', 'fieldkit-authorized_keys', 'user-data', 'meta-data', 'network-config']);
    const userData = mtype(device, offset, 'user-data').toString();
    expect(userData.startsWith('#cloud-config\n')).toBe(true);
    expect(userData).toContain('hostname: "cam-north-3"\n');
    expect(userData).toContain('  - name: "fieldtech"\n');
    expect(userData).toContain(`      - ${JSON.stringify(techKey)}\n`);
    expect(userData).toContain('/etc/fieldkit-agent/config.json');
    expect(mtype(device, offset, 'meta-data').toString()).toBe('instance-id: "pi-0042"\n');
    expect(mtype(device, offset, 'network-config').toString()).toContain('dhcp4: true');
    // Boot B keeps its own files untouched: only boot A was customised.
    const bootB = (await readDeviceLayout(device)).partitions.find((p) => p.role === 'boot_b');
    expect(mdir(device, bootB?.start ?? 0)).not.toContain('fieldkit');
  });

  it('firstrun.sh with the cmdline hook, exactly once, into an MBR image file', async () => {
    const device = at('mbr-copy.img');
    copyFileSync(at('mbr.img'), device);
    const layout = await readDeviceLayout(device);
    const cmdlineBefore = mtype(device, bootPartition(layout, device).start, 'cmdline.txt').toString();
    const { offset, names } = await applyAndCheck(device, { layout, customisation: 'firstrun' }, testImageSize);
    expect(names).toEqual(['fieldkit-identity.json', 'fieldkit-agent.json', 'fieldkit-authorized_keys', 'firstrun.sh', 'cmdline.txt']);
    const cmdline = mtype(device, offset, 'cmdline.txt').toString();
    expect(cmdline).toBe(`${cmdlineBefore.trim()} ${firstrunHook}\n`);
    expect(cmdline.split(firstrunHook)).toHaveLength(2);
    const script = mtype(device, offset, 'firstrun.sh').toString();
    expect(script.startsWith('#!/bin/bash\n')).toBe(true);
    expect(script).toContain("FK_HOSTNAME='cam-north-3'");
    expect(script).toContain("FK_USER='pi'");
    expect(script).toContain(`sed -i 's| ${firstrunHook}||' "$BOOT/cmdline.txt"`);
    expect(script).toContain('rm -f "$BOOT/firstrun.sh"');
    // The script's own cmdline edit, run as the Pi would, gives back the original line.
    const sed = execFileSync('sed', [`s| ${firstrunHook}||`], { input: cmdline, encoding: 'utf8' });
    expect(sed).toBe(`${cmdlineBefore.trim()}\n`);
    execFileSync('bash', ['-n'], { input: script });
  });

  it('cloud-init on a zram drive holding the GPT image, leaving the other partitions byte-identical', async () => {
    const zram = createZram(96 << 20);
    devices.push(zram);
    execFileSync('dd', [`if=${at('gpt.img')}`, `of=${zram.device}`, 'bs=4M', 'oflag=direct', 'status=none']);
    const layout = await readDeviceLayout(zram.device);
    const files = await applyAndCheck(zram.device, { layout, customisation: 'cloud-init' }, zram.sizeBytes);
    expect(files.names).toContain('user-data');
    // The read-back came from the drive: drop the cache again and compare once more.
    execFileSync('blockdev', ['--flushbufs', zram.device]);
    expect(mtype(zram.device, files.offset, 'meta-data').toString()).toBe('instance-id: "pi-0042"\n');
  });
});

describe('fieldkit image pack --first-boot', () => {
  it('records the customisation in the signed manifest, and a flash applies it from there', async () => {
    expect((await runCliProcess(['keygen', '--out', at('keys')])).code).toBe(0);
    const common = ['--product', 'demo-os', '--image-version', '3.0.0', '--sequence', '9', '--boards', 'pi5', '--compression', 'none', '--key', at('keys/fieldkit.key')];
    const pack = await runCliProcess(['image', 'pack', at('mbr.img'), '--out', at('firstrun.fkimg'), '--first-boot', 'firstrun', '--first-boot-user', 'fieldtech', ...common]);
    expect(pack.stderr).toBe('');
    expect(pack.code).toBe(0);
    expect(pack.stdout).toContain('first boot: firstrun (user fieldtech)');
    const { manifest } = await readUnverifiedManifest(at('firstrun.fkimg'));
    expect(manifest.first_boot).toEqual({ kind: 'firstrun', user: 'fieldtech' });
    expect(firstBootKind(manifest)).toBe('firstrun');
    const device = at('from-manifest.img');
    copyFileSync(at('mbr.img'), device);
    const files = await applyFirstBoot({ device, layout: manifest.layout, customisation: firstBootKind(manifest), user: manifest.first_boot?.user, identity, appSshPublicKey: appKey });
    expect(files.map((f) => f.name)).toContain('firstrun.sh');
    expect(mtype(device, bootPartition(manifest.layout, device).start, 'firstrun.sh').toString()).toContain("FK_USER='fieldtech'");

    const plain = await runCliProcess(['--json', 'image', 'pack', at('gpt.img'), '--out', at('plain.fkimg'), ...common]);
    expect(plain.code).toBe(0);
    expect((JSON.parse(plain.stdout) as { manifest: Record<string, unknown> }).manifest).not.toHaveProperty('first_boot');
    const badUser = await runCliProcess(['image', 'pack', at('gpt.img'), '--out', at('bad.fkimg'), '--first-boot', 'cloud-init', '--first-boot-user', 'Root User', ...common]);
    expect(badUser.code).toBe(1);
    expect(badUser.stderr).toContain('first_boot.user a Linux user name');
    const badKind = await runCliProcess(['image', 'pack', at('gpt.img'), '--out', at('bad.fkimg'), '--first-boot', 'ignition', ...common]);
    expect(badKind.code).toBe(2);
  });
});

describe('applyFirstBoot refusals', () => {
  it('takes the customisation from the manifest: none for plain images and old manifests', () => {
    expect(firstBootKind(null)).toBe('none');
    expect(firstBootKind({ first_boot: { kind: 'firstrun', user: 'pi' } } as ImageManifest)).toBe('firstrun');
    expect(firstBootKind({} as ImageManifest)).toBe('none');
  });

  it('refuses a layout whose boot partition is not FAT, and one with no FAT partition', async () => {
    const device = at('gpt.img');
    const layout = await readDeviceLayout(device);
    const ext4Boot: PartitionLayout = { ...layout, partitions: layout.partitions.map((p) => ({ ...p, role: p.role === 'root_a' ? 'boot_a' : p.role === 'boot_a' ? 'other' : p.role })) };
    const notFat = await caught(applyFirstBoot({ device, layout: ext4Boot, customisation: 'none', identity, appSshPublicKey: appKey }));
    expect(isFieldkitError(notFat) && notFat.appError.code).toBe('BAD_REQUEST');
    expect((notFat as Error).message).toMatch(/boot partition \(4, boot_a\) has type 0fc63daf-8483-4772-8e79-3d69e4d4c4e4, which is not FAT/);
    const noFat: PartitionLayout = { table: 'gpt', partitions: layout.partitions.filter((p) => p.role.startsWith('root')).map((p) => ({ ...p, role: 'other' })) };
    const none = await caught(applyFirstBoot({ device, layout: noFat, customisation: 'none', identity, appSshPublicKey: appKey }));
    expect((none as Error).message).toBe(`${device} has no FAT boot partition to write the first-boot identity into.`);
  });

  it('refuses firstrun without a cmdline.txt, a bad agent config and a cancelled signal, writing nothing', async () => {
    const device = at('refusals.img');
    copyFileSync(at('gpt.img'), device);
    const before = createHash('sha256').update(readRange(device, 0, testImageSize)).digest('hex');
    const layout = await readDeviceLayout(device);
    // The boot selector partition holds only autoboot.txt.
    const selectorAsBoot: PartitionLayout = { ...layout, partitions: layout.partitions.map((p) => ({ ...p, role: p.role === 'bootsel' ? 'boot_a' : p.role === 'boot_a' ? 'other' : p.role })) };
    const noCmdline = await caught(applyFirstBoot({ device, layout: selectorAsBoot, customisation: 'firstrun', identity, appSshPublicKey: appKey }));
    expect((noCmdline as Error).message).toContain('has no cmdline.txt');
    const badAgent = await caught(applyFirstBoot({ device, layout, customisation: 'none', identity: { ...identity, agentConfig: { ingest: { host: '127.0.0.1', port: 0, max_event_bytes: 65536, max_batch_events: 10_000, max_pending_requests: 64 } } }, appSshPublicKey: appKey }));
    expect(isFieldkitError(badAgent) && badAgent.appError.field).toBe('ingest.port');
    const controller = new AbortController();
    controller.abort();
    const cancelled = await caught(applyFirstBoot({ device, layout, customisation: 'none', identity, appSshPublicKey: appKey, signal: controller.signal }));
    expect(isFieldkitError(cancelled) && cancelled.appError.code).toBe('CANCELLED');
    expect(createHash('sha256').update(readRange(device, 0, testImageSize)).digest('hex')).toBe(before);
  });

  it('refuses a boot partition too full for the files as a whole, writing none of them', async () => {
    const device = at('full.img');
    copyFileSync(at('gpt.img'), device);
    const layout = await readDeviceLayout(device);
    const boot = bootPartition(layout, device);
    // Leave 4 KiB free: room for the first file or two, not for all of them.
    const opened = await openDevice(device, 'write');
    try {
      const volume = await FatVolume.open(opened.io, { offset: boot.start, size: boot.size });
      await volume.writeFile('filler.bin', Buffer.alloc((await volume.freeBytes()) - 4096, 0x5a));
    } finally {
      await opened.handle.close();
    }
    const before = createHash('sha256').update(readRange(device, 0, testImageSize)).digest('hex');
    const full = await caught(applyFirstBoot({ device, layout, customisation: 'cloud-init', identity, appSshPublicKey: appKey }));
    expect(isFieldkitError(full) && full.appError.code).toBe('IO_ERROR');
    expect((full as Error).message).toMatch(/^Disk full: the first-boot files need \d+ more bytes than .*full\.img partition 2 has free\.$/);
    expect(createHash('sha256').update(readRange(device, 0, testImageSize)).digest('hex')).toBe(before);
    expectFsckClean(device, boot.start, boot.size, dir.path);
  });

  it('refuses a drive another program holds exclusively (a mounted partition does the same)', async () => {
    const zram = createZram(96 << 20);
    devices.push(zram);
    execFileSync('dd', [`if=${at('mbr.img')}`, `of=${zram.device}`, 'bs=4M', 'oflag=direct', 'status=none']);
    const layout = await readDeviceLayout(zram.device);
    const holder = await open(zram.device, constants.O_RDONLY | constants.O_EXCL);
    try {
      const busy = await caught(applyFirstBoot({ device: zram.device, layout, customisation: 'none', identity, appSshPublicKey: appKey }));
      expect(isFieldkitError(busy) && busy.appError.code).toBe('CONFLICT');
      expect((busy as Error).message).toBe(`${zram.device} is in use (a partition is mounted or another program holds it).`);
    } finally {
      await holder.close();
    }
  });
});
