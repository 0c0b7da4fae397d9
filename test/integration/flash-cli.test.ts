/**
 * `fieldkit flash` as a technician runs it, against real zram drives: two drives at once,
 * each with its own first-boot identity (read back with mtype), both written in parallel and
 * checked with cmp; a plain image with the policy on, to one good drive and one busy one
 * (exit 1, the per-drive table names both); the identity file refused when one object is
 * given for two drives; no terminal and no --yes → refused with a hint, nothing written.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestImage } from '../../build/make-test-image.ts';
import { identityFileName } from '../../electron/flash/firstBoot.ts';
import { packImage } from '../../electron/kernel/image/packImage.ts';
import { generateSecretKey } from '../../electron/kernel/signing/minisign.ts';
import { formatPublicKey, publicKeyOf } from '../../electron/kernel/signing/minisignFormat.ts';
import { FlashResultSchema } from '../../shared/flash.ts';
import type { ImageManifest } from '../../shared/image.ts';
import { JobEventSchema, type JobEvent } from '../../shared/jobs.ts';
import { mtype } from '../support/fatTools.ts';
import { mountedDrives } from '../support/mountedDrive.ts';
import { runCliProcess } from '../support/runCliProcess.ts';
import { makeTempDir } from '../support/tempDir.ts';
import { createZram, removeZrams, type ZramDevice } from '../support/zram.ts';
import { readBytes } from '../support/readBytes.ts';

const mib = 1 << 20;
const dir = makeTempDir('fieldkit-flash-cli-');
const at = (name: string): string => path.join(dir.path, name);
const data = ['--data-dir', at('data')];
const key = generateSecretKey();
let manifest: ImageManifest;
const devices: ZramDevice[] = [];
const mounted = mountedDrives();

function zram(bytes: number): ZramDevice {
  const device = createZram(bytes);
  devices.push(device);
  execFileSync('dd', ['if=/dev/urandom', `of=${device.device}`, 'bs=1M', 'count=1', 'oflag=direct', 'status=none']);
  return device;
}

function head(device: string): Buffer {
  return readBytes(device, 0, mib);
}

/** NDJSON job events, then the pretty-printed final object. */
function splitJsonOutput(stdout: string): { events: JobEvent[]; final: unknown } {
  const lines = stdout.split('\n');
  const events: JobEvent[] = [];
  let rest = 0;
  lines.forEach((line, index) => {
    if (!line.startsWith('{"type"')) return;
    events.push(JobEventSchema.parse(JSON.parse(line)));
    rest = index + 1;
  });
  return { events, final: JSON.parse(lines.slice(rest).join('\n')) };
}

beforeAll(async () => {
  await makeTestImage(at('raw.img'));
  manifest = (await packImage(at('raw.img'), at('good.fkimg'), { product: 'demo-os', version: '1.2.0', sequence: 7, boards: ['pi4', 'pi5'], expiresDays: 30, key })).manifest;
  copyFileSync(at('raw.img'), at('plain.img'));
  writeFileSync(at('release.pub'), formatPublicKey(publicKeyOf(key)));
  const imported = await runCliProcess([...data, 'trust', 'import', at('release.pub'), '--label', 'demo release key']);
  if (imported.code !== 0) throw new Error(imported.stderr);
}, 40_000);

afterAll(async () => {
  await mounted.releaseAll();
  try {
    await removeZrams(devices);
  } finally {
    dir.remove();
  }
});

describe('fieldkit flash', () => {
  it('flashes two drives in parallel, each with its own identity, and says so per drive', async () => {
    const a = zram(128 * mib);
    const b = zram(128 * mib);
    writeFileSync(
      at('ids.json'),
      JSON.stringify([
        { deviceId: 'pi-017', hostname: 'pi-017', site: 'north-yard' },
        { deviceId: 'pi-018', hostname: 'pi-018', site: 'north-yard' },
      ]),
    );
    const run = await runCliProcess(['--json', ...data, 'flash', at('good.fkimg'), '--to', a.device, '--to', b.device, '--identity', at('ids.json'), '--no-eject', '--yes']);
    expect(run.code, run.stderr + run.stdout.slice(-2000)).toBe(0);
    const { events, final } = splitJsonOutput(run.stdout);
    const result = FlashResultSchema.parse((final as { result: unknown }).result);
    expect(result.targets.map((t) => [t.device, t.status])).toEqual([
      [a.device, 'success'],
      [b.device, 'success'],
    ]);
    expect(result.targets[0]?.firstBootFiles.map((f) => f.name)).toContain(identityFileName);
    // Both drives were being written at the same moment: parallel, not one after the other.
    const busy = new Set(['writing', 'verifying']);
    expect(events.some((e) => e.type === 'progress' && e.progress.targets?.length === 2 && e.progress.targets.every((t) => busy.has(t.state)))).toBe(true);

    const boot = manifest.layout.partitions.find((p) => p.role === 'boot_a');
    if (boot === undefined) throw new Error('no boot_a');
    for (const [device, id] of [
      [a.device, 'pi-017'],
      [b.device, 'pi-018'],
    ] as const) {
      expect(JSON.parse(mtype(device, boot.start, identityFileName).toString('utf8'))).toEqual({ device_id: id, hostname: id, site: 'north-yard' });
      // The root partitions are exactly the image's: the identity went into the boot FAT only.
      for (const role of ['root_a', 'root_b'] as const) {
        const part = manifest.layout.partitions.find((p) => p.role === role);
        if (part === undefined) throw new Error(`no ${role}`);
        execFileSync('cmp', ['-n', String(part.size), '-i', `${part.start}:${part.start}`, at('raw.img'), device]);
      }
    }
  });

  it('a plain image with the policy on: one drive succeeds, a busy one is refused, exit 1 and a table naming both', async () => {
    const policy = await runCliProcess([...data, 'settings', 'flash', '--allow-unsigned', 'on']);
    expect(policy.code, policy.stderr).toBe(0);
    const good = zram(128 * mib);
    const busy = zram(128 * mib);
    mounted.mount(busy.device, at('mnt-busy'));
    mounted.holdBusy(at('mnt-busy'));
    const busyBefore = head(busy.device);
    const run = await runCliProcess([...data, 'flash', at('plain.img'), '--to', good.device, '--to', busy.device, '--accept-unsigned', '--no-eject', '--yes']);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('WARNING: Unsigned image: fieldkit cannot tell who made it or whether it was altered.');
    expect(run.stderr).toMatch(new RegExp(`${good.device}: writing`));
    const rows = run.stdout.split('\n');
    expect(rows.find((r) => r.startsWith(good.device))).toMatch(/success/);
    expect(rows.find((r) => r.startsWith(busy.device))).toMatch(/refused \(unchanged\).*could not be unmounted/);
    execFileSync('cmp', ['-n', String(80 * mib), at('raw.img'), good.device]);
    expect(head(busy.device).equals(busyBefore)).toBe(true);
  });

  it('refuses one identity for two drives, and a flash with no terminal and no --yes, writing nothing', async () => {
    const a = zram(128 * mib);
    const b = zram(128 * mib);
    const before = [head(a.device), head(b.device)];
    writeFileSync(at('one.json'), JSON.stringify({ deviceId: 'pi-020', hostname: 'pi-020' }));
    const shared = await runCliProcess([...data, 'flash', at('good.fkimg'), '--to', a.device, '--to', b.device, '--identity', at('one.json'), '--yes']);
    expect(shared.code).toBe(1);
    expect(shared.stderr).toContain('two Pis must not share a device id');

    const unconfirmed = await runCliProcess([...data, 'flash', at('good.fkimg'), '--to', a.device]);
    expect(unconfirmed.code).toBe(1);
    expect(unconfirmed.stderr).toContain(a.device);
    expect(unconfirmed.stderr).toContain('--yes');
    expect(head(a.device).equals(before[0] ?? Buffer.alloc(0))).toBe(true);
    expect(head(b.device).equals(before[1] ?? Buffer.alloc(0))).toBe(true);
  });
});
