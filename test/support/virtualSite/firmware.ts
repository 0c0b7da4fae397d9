/**
 * A virtual Raspberry Pi with an A/B disk, where this harness plays the firmware.
 *
 * The disk is a raw image file (firmwareDisk.ts) behind loop devices: the whole disk and
 * one per partition (this kernel has no partition scanning for loop devices), bound into
 * the container as /dev/mmcblk0 and /dev/mmcblk0p1…p6, so the Pi-side code reads the
 * table and writes slots exactly as on a card.
 *
 * At every boot the harness does what the Pi bootloader does with tryboot_a_b=1 (Raspberry
 * Pi docs, autoboot.txt and "Fail-safe OS updates (TRYBOOT)"): it reads autoboot.txt from
 * the bootsel FAT partition (mtools, nothing mounted), takes the one-shot tryboot flag and
 * CLEARS it before booting, picks `[tryboot]`'s boot_partition when the flag was set and
 * `[all]`'s otherwise, then boots the root that partition's cmdline.txt names.
 *
 * What is simulated, and how:
 * - "Booting a root": the shared Debian of the virtual site stays the base; the chosen root
 *   partition's files (its /etc/fieldkit-slot, its systemd units) are read with debugfs and
 *   laid over it as an overlay layer. The persistent upper layer (identity, anything the
 *   Pi wrote) plays the data partition that survives a slot switch.
 * - The tryboot flag: `reboot "0 tryboot"` runs a shim (/usr/local/sbin/reboot, first in
 *   sudo's PATH) that records the request in /run/fieldkit-firmware-request (a host folder)
 *   before the real reboot; the container's reboot ends nspawn and the harness boots again.
 * - The device tree: /run/fieldkit-firmware/device-tree/{model, chosen/bootloader/tryboot,
 *   chosen/bootloader/partition} (big-endian u32 as on a Pi) and /run/fieldkit-firmware/cmdline,
 *   read-only; the slot code reads these via its `platform` paths (on a Pi: /proc/…).
 * - `vcgencmd bootloader_version` is a stub printing the configured EEPROM date.
 * - mtools is copied from this machine (the Pi OS image would ship it: `apt install mtools`).
 * - A slot whose root holds /etc/fieldkit-test-panic "panics": no container starts; the Pi
 *   stays silent until powerCycle().
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../../../electron/kernel/net/freePort.ts';
import { readPartitionTable } from '../../../electron/kernel/image/partitionTable.ts';
import { makeTempDir } from '../tempDir.ts';
import { createInstance, type Instance } from './instance.ts';
import { sweepLeftovers } from './leftovers.ts';
import { ensureRootfs, piPassword, piUser, removeTree } from './rootfs.ts';
import type { ExecResult } from './sshExec.ts';

export type BootRecord = { bootPartition: number; rootPartition: number; tryboot: boolean; slotVersion: string; outcome: 'booted' | 'panicked' | 'failed'; detail?: string };

export type VirtualAbPi = {
  name: string;
  host: '127.0.0.1';
  sshPort: number;
  user: typeof piUser;
  password: string;
  privateKeyPath: string;
  publicKey: string;
  knownHostsPath: string;
  readonly hostKeyPublic: string;
  /** The raw disk image (its bytes are the card's). */
  diskPath: string;
  /** Where the slot code must look instead of /proc on this virtual Pi. */
  platform: { deviceTreeDir: string; cmdlinePath: string; disk: string };
  /** Every boot the firmware did, oldest first. */
  boots: BootRecord[];
  exec(command: string, options?: { input?: string; timeoutMs?: number }): Promise<ExecResult>;
  /** Resolves once `boots.length >= count` and that boot is settled (up, or panicked). */
  waitForBoots(count: number, timeoutMs?: number): Promise<BootRecord>;
  /** Pulls the power and plugs it back: no clean shutdown, the firmware boots afresh. */
  powerCycle(): Promise<void>;
  /** SHA-256 of a partition's bytes as the host sees them. */
  partitionSha256(index: number): string;
  stop(): Promise<void>;
};

export type VirtualAbPiOptions = {
  /** The raw A/B disk (copied: the original is not changed). */
  disk: string;
  name?: string;
  model?: string;
  /** `vcgencmd bootloader_version`'s date line; null: no vcgencmd on the Pi. */
  bootloaderDate?: string | null;
};

const mtoolsEnv = { ...process.env, MTOOLS_SKIP_CHECK: '1' };

function u32(value: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(value);
  return b;
}

/**
 * `[all]` / `[tryboot]` sections of autoboot.txt; the firmware's view of it.
 *
 * Deliberately its own, not electron/deploy/slots/tryboot.ts's `parseAutoboot` (which it
 * resembles line for line): this is the firmware that the autoboot.txt the product writes
 * is tested against, so it must not share the product's reading of that file. Were it
 * imported, a parsing bug would boot the slot the product believes it chose, and the slot
 * tests would pass by construction.
 */
export function parseAutoboot(text: string): Record<string, Record<string, string>> {
  const sections: Record<string, Record<string, string>> = { all: {} };
  let current = 'all';
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const header = /^\[(\w+)\]$/.exec(line);
    if (header?.[1] !== undefined) {
      current = header[1];
      sections[current] ??= {};
      continue;
    }
    const eq = line.indexOf('=');
    if (eq > 0) (sections[current] ??= {})[line.slice(0, eq).trim()] = line.slice(eq + 1).trim();
  }
  return sections;
}

function firmwareLayer(dir: string, options: VirtualAbPiOptions): void {
  const sbin = join(dir, 'usr/local/sbin');
  const bin = join(dir, 'usr/local/bin');
  mkdirSync(sbin, { recursive: true });
  mkdirSync(bin, { recursive: true });
  writeFileSync(
    join(sbin, 'reboot'),
    [
      '#!/bin/sh',
      '# Virtual Pi (test harness): the real firmware keeps the tryboot flag across a reboot; here the',
      '# request is left where the harness reads it, then the system reboots as usual.',
      'case "$*" in *tryboot*) : > /run/fieldkit-firmware-request/tryboot; sync ;; esac',
      'exec /usr/sbin/reboot "$@"',
      '',
    ].join('\n'),
  );
  chmodSync(join(sbin, 'reboot'), 0o755);
  if (options.bootloaderDate !== null) {
    const date = options.bootloaderDate ?? '2024/09/23 13:02:56';
    writeFileSync(
      join(bin, 'vcgencmd'),
      ['#!/bin/sh', 'case "$1" in', `bootloader_version) printf '%s\\n' '${date}' 'version 0000000000000000000000000000000000000000 (release)' 'timestamp 1727096576' ;;`, '*) echo "error=1 error_msg=\\"Command not registered\\"" >&2; exit 1 ;;', 'esac', ''].join('\n'),
    );
    chmodSync(join(bin, 'vcgencmd'), 0o755);
  }
  copyFileSync('/usr/bin/mtools', join(bin, 'mtools'));
  chmodSync(join(bin, 'mtools'), 0o755);
  for (const tool of ['mcopy', 'mtype', 'mmove', 'mdel', 'mdir']) symlinkSync('mtools', join(bin, tool));
}

export async function startVirtualAbPi(options: VirtualAbPiOptions): Promise<VirtualAbPi> {
  const rootfs = await ensureRootfs();
  await sweepLeftovers();
  const name = options.name ?? 'abpi-1';
  const siteDir = makeTempDir('fieldkit-abpi-').path;
  const diskPath = join(siteDir, 'disk.img');
  copyFileSync(options.disk, diskPath);
  const privateKeyPath = join(siteDir, 'id_ed25519');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'fieldkit-laptop@virtual-ab-pi', '-f', privateKeyPath]);
  const publicKey = readFileSync(`${privateKeyPath}.pub`, 'utf8').trim();
  const knownHostsPath = join(siteDir, 'known_hosts');
  writeFileSync(knownHostsPath, '');
  const fwDir = join(siteDir, 'firmware');
  const requestDir = join(siteDir, 'request');
  const layerDir = join(siteDir, 'layer-firmware');
  const slotDir = join(siteDir, 'layer-slot');
  mkdirSync(join(fwDir, 'device-tree/chosen/bootloader'), { recursive: true });
  mkdirSync(requestDir, { recursive: true });
  firmwareLayer(layerDir, options);
  writeFileSync(join(fwDir, 'device-tree/model'), `${options.model ?? 'Raspberry Pi 4 Model B Rev 1.5'}\0`);

  const table = await readPartitionTable(diskPath);
  const loops: string[] = [];
  const attach = (args: string[]): string => {
    const device = execFileSync('losetup', ['--find', '--show', ...args, diskPath], { encoding: 'utf8' }).trim();
    loops.push(device);
    return device;
  };
  const wholeDisk = attach([]);
  const partLoops = new Map<number, string>();
  for (const p of table.partitions) partLoops.set(p.index, attach(['--offset', String(p.start), '--sizelimit', String(p.size)]));
  const part = (index: number): string => {
    const device = partLoops.get(index);
    if (device === undefined) throw new Error(`the virtual disk has no partition ${String(index)}`);
    return device;
  };

  const sshPort = await freePort();
  const boots: BootRecord[] = [];
  const waiters: (() => void)[] = [];
  let settling: Promise<void> = Promise.resolve();
  let instanceRef: Instance | null = null;
  let stopped = false;

  /** What the bootloader does: returns whether the container should start. */
  function playFirmware(): BootRecord {
    const flag = join(requestDir, 'tryboot');
    const tryboot = existsSync(flag);
    // One-shot: cleared before anything is booted, so any reset after this goes back to [all].
    rmSync(flag, { force: true });
    const autoboot = parseAutoboot(execFileSync('mtype', ['-i', part(1), '::autoboot.txt'], { encoding: 'utf8', env: mtoolsEnv, stdio: ['ignore', 'pipe', 'pipe'] }));
    const chosen = tryboot ? { ...autoboot.all, ...autoboot.tryboot } : (autoboot.all ?? {});
    const bootPartition = Number(chosen.boot_partition ?? '1');
    const cmdline = execFileSync('mtype', ['-i', part(bootPartition), '::cmdline.txt'], { encoding: 'utf8', env: mtoolsEnv, stdio: ['ignore', 'pipe', 'pipe'] }).trim();
    const rootPartition = Number(/root=\/dev\/mmcblk0p(\d+)/.exec(cmdline)?.[1] ?? '0');
    rmSync(slotDir, { recursive: true, force: true });
    mkdirSync(slotDir, { recursive: true });
    for (const top of ['etc']) execFileSync('debugfs', ['-R', `rdump /${top} ${slotDir}`, part(rootPartition)], { stdio: 'ignore' });
    const slotVersion = existsSync(join(slotDir, 'etc/fieldkit-slot')) ? readFileSync(join(slotDir, 'etc/fieldkit-slot'), 'utf8').trim() : '';
    const panics = existsSync(join(slotDir, 'etc/fieldkit-test-panic'));
    writeFileSync(join(fwDir, 'device-tree/chosen/bootloader/tryboot'), u32(tryboot ? 1 : 0));
    writeFileSync(join(fwDir, 'device-tree/chosen/bootloader/partition'), u32(bootPartition));
    writeFileSync(join(fwDir, 'cmdline'), `${cmdline}\n`);
    return { bootPartition, rootPartition, tryboot, slotVersion, outcome: panics || slotVersion === '' ? 'panicked' : 'booted' };
  }

  function notify(): void {
    for (const waiter of waiters.splice(0)) waiter();
  }

  async function firmwareBoot(): Promise<void> {
    const instance = instanceRef;
    if (instance === null || stopped) return;
    let record: BootRecord;
    try {
      record = playFirmware();
    } catch (error) {
      record = { bootPartition: 0, rootPartition: 0, tryboot: false, slotVersion: '', outcome: 'failed', detail: (error as Error).message };
    }
    if (record.outcome === 'booted') {
      try {
        await instance.boot();
      } catch (error) {
        record = { ...record, outcome: 'failed', detail: (error as Error).message };
      }
    }
    boots.push(record);
    notify();
  }

  const instance = createInstance({
    name,
    cgroupName: `fieldkit-abpi-${randomBytes(4).toString('hex')}`,
    rootfs,
    siteDir,
    sshPort,
    laptopPublicKey: publicKey,
    privateKeyPath,
    knownHostsPath,
    serial: false,
    lowerDirs: () => [slotDir, layerDir],
    nspawnArgs: () => [
      `--bind=${wholeDisk}:/dev/mmcblk0`,
      ...table.partitions.map((p) => `--bind=${part(p.index)}:/dev/mmcblk0p${String(p.index)}`),
      `--bind-ro=${fwDir}:/run/fieldkit-firmware`,
      `--bind=${requestDir}:/run/fieldkit-firmware-request`,
    ],
    onExit: () => {
      // The Pi rebooted itself: the firmware runs again.
      settling = settling.then(async () => {
        await instance.stop();
        await firmwareBoot();
      });
    },
  });
  instanceRef = instance;
  await firmwareBoot();
  const first = boots[0];
  if (first?.outcome !== 'booted') {
    await stopAll();
    throw new Error(`the virtual A/B Pi did not boot: ${JSON.stringify(first)}`);
  }

  async function stopAll(): Promise<void> {
    stopped = true;
    await settling;
    await instance.stop();
    for (const device of loops.reverse()) {
      try {
        execFileSync('losetup', ['--detach', device], { stdio: 'ignore' });
      } catch {
        // already gone
      }
    }
    removeTree(siteDir);
  }

  return {
    name,
    host: '127.0.0.1',
    sshPort,
    user: piUser,
    password: piPassword,
    privateKeyPath,
    publicKey,
    knownHostsPath,
    get hostKeyPublic() {
      return instance.hostKeyPublic;
    },
    diskPath,
    platform: { deviceTreeDir: '/run/fieldkit-firmware/device-tree', cmdlinePath: '/run/fieldkit-firmware/cmdline', disk: '/dev/mmcblk0' },
    boots,
    exec: instance.exec,
    async waitForBoots(count, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      while (boots.length < count) {
        if (Date.now() > deadline) throw new Error(`the virtual Pi booted ${String(boots.length)} times, not ${String(count)}, within ${String(timeoutMs)} ms`);
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, 500);
        });
      }
      const record = boots[count - 1];
      if (record === undefined) throw new Error('no boot record');
      return record;
    },
    async powerCycle() {
      await settling;
      settling = (async () => {
        await instance.stop();
        await firmwareBoot();
      })();
      await settling;
    },
    partitionSha256(index) {
      return execFileSync('sha256sum', [part(index)], { encoding: 'utf8' }).split(' ')[0] ?? '';
    },
    stop: stopAll,
  };
}
