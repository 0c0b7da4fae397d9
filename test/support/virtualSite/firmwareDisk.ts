/**
 * Small A/B disks for the virtual Pi's firmware harness (firmware.ts), laid out as a fleet
 * image for tryboot: bootsel (FAT, autoboot.txt), boot A/B (FAT: config.txt, cmdline.txt,
 * a kernel-sized blob), root A/B (ext4), data (ext4), GPT with role names. A "root" is not
 * a whole OS: it holds /etc/fieldkit-slot (the version) and systemd units that the harness
 * lays over the virtual Pi's shared Debian when it boots that slot (see firmware.ts).
 * Nothing is mounted: sfdisk, mkfs.vfat + mcopy, mkfs.ext4 -d.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, open, rm, symlink, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { copyNonZeroChunks } from '../../../build/make-test-image.ts';

const run = promisify(execFile);
const mib = 1 << 20;

/** What the slot's root does when booted: `good` runs its service, `failing` ships a service that fails, `panic` never comes up. */
export type SlotBehaviour = 'good' | 'failing' | 'panic';

export type AbDiskOptions = {
  /** Written into both roots' /etc/fieldkit-slot. */
  version: string;
  behaviour?: SlotBehaviour;
  /** autoboot.txt's boot partition (2 = A, 3 = B). */
  bootPartition?: 2 | 3;
  /** A file in the data partition, to prove it survives. */
  dataMarker?: string;
};

type FsSpec = { role: string; kind: 'vfat' | 'ext4'; sizeMiB: number; label: string };
const filesystems: FsSpec[] = [
  { role: 'bootsel', kind: 'vfat', sizeMiB: 2, label: 'BOOTSEL' },
  { role: 'boot_a', kind: 'vfat', sizeMiB: 6, label: 'BOOT_A' },
  { role: 'boot_b', kind: 'vfat', sizeMiB: 6, label: 'BOOT_B' },
  { role: 'root_a', kind: 'ext4', sizeMiB: 12, label: 'root_a' },
  { role: 'root_b', kind: 'ext4', sizeMiB: 12, label: 'root_b' },
  { role: 'data', kind: 'ext4', sizeMiB: 6, label: 'data' },
];
export const abDiskBytes = (filesystems.reduce((s, f) => s + f.sizeMiB, 0) + 2) * mib;

const fatGuid = 'EBD0A0A2-B9E5-4433-87C0-68B6B72699C7';
const linuxGuid = '0FC63DAF-8483-4772-8E79-3D69E4D4C4E4';

export function autobootFor(bootPartition: number): string {
  return `[all]\ntryboot_a_b=1\nboot_partition=${String(bootPartition)}\n`;
}

async function populate(file: string, spec: FsSpec, work: string, options: AbDiskOptions): Promise<void> {
  if (spec.kind === 'vfat') {
    await run('mkfs.vfat', ['-n', spec.label, file]);
    const rootIndex = spec.role === 'boot_a' ? 4 : 5;
    const files: Record<string, Buffer> =
      spec.role === 'bootsel'
        ? { 'autoboot.txt': Buffer.from(autobootFor(options.bootPartition ?? 2)) }
        : {
            'config.txt': Buffer.from(`# ${spec.role} ${options.version}\narm_64bit=1\n`),
            'cmdline.txt': Buffer.from(`console=serial0,115200 root=/dev/mmcblk0p${String(rootIndex)} rootwait fieldkit.slot=${spec.role === 'boot_a' ? 'a' : 'b'}\n`),
            'kernel8.img': randomBytes(mib + 4321),
          };
    for (const [name, content] of Object.entries(files)) {
      const local = path.join(work, `${spec.role}-${name}`);
      await writeFile(local, content);
      await run('mcopy', ['-i', file, local, `::${name}`]);
    }
    return;
  }
  const tree = path.join(work, `tree-${spec.role}`);
  await mkdir(path.join(tree, 'etc'), { recursive: true });
  if (spec.role === 'data') {
    await writeFile(path.join(tree, 'identity.json'), `${JSON.stringify({ marker: options.dataMarker ?? 'data' })}\n`);
  } else {
    await writeFile(path.join(tree, 'etc', 'fieldkit-slot'), `${options.version}\n`);
    await writeFile(path.join(tree, 'payload.bin'), randomBytes(mib + 999));
    const behaviour = options.behaviour ?? 'good';
    if (behaviour === 'panic') await writeFile(path.join(tree, 'etc', 'fieldkit-test-panic'), 'this slot\'s kernel panics (simulated by the harness)\n');
    const units = path.join(tree, 'etc', 'systemd', 'system');
    await mkdir(path.join(units, 'multi-user.target.wants'), { recursive: true });
    const exec = behaviour === 'failing' ? '/bin/false' : '/bin/sleep infinity';
    await writeFile(path.join(units, 'fieldkit-inference.service'), `[Unit]\nDescription=inference service of ${options.version}\n[Service]\nExecStart=${exec}\n[Install]\nWantedBy=multi-user.target\n`);
    await symlink('../fieldkit-inference.service', path.join(units, 'multi-user.target.wants', 'fieldkit-inference.service'));
  }
  await run('mkfs.ext4', ['-q', '-F', '-L', spec.label, '-d', tree, file]);
}

/** Writes a raw A/B disk image to `out`. */
export async function makeAbDisk(out: string, options: AbDiskOptions): Promise<void> {
  const work = await mkdtemp(path.join(tmpdir(), 'fieldkit-ab-disk-'));
  try {
    await rm(out, { force: true });
    await writeFile(out, '');
    await truncate(out, abDiskBytes);
    const script = ['label: gpt', ...filesystems.map((f) => `size=${String(f.sizeMiB)}MiB, type=${f.kind === 'vfat' ? fatGuid : linuxGuid}, name=${f.role}`)].join('\n') + '\n';
    await new Promise<void>((resolve, reject) => {
      const child = execFile('sfdisk', ['--quiet', '--no-reread', '--no-tell-kernel', out], (error) => {
        if (error) reject(new Error(error.message));
        else resolve();
      });
      child.stdin?.end(script);
    });
    const { stdout } = await run('sfdisk', ['--json', out]);
    const parts = (JSON.parse(stdout) as { partitiontable: { partitions: { start: number; size: number }[] } }).partitiontable.partitions;
    const image = await open(out, 'r+');
    try {
      for (const [i, spec] of filesystems.entries()) {
        const part = parts[i];
        if (part === undefined) throw new Error('sfdisk made fewer partitions than asked');
        const file = path.join(work, `${spec.role}.fs`);
        await writeFile(file, '');
        await truncate(file, part.size * 512);
        await populate(file, spec, work, options);
        await copyNonZeroChunks(file, image, part.start * 512, part.size * 512);
      }
    } finally {
      await image.close();
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
