/**
 * Makes a small A/B test disk image, as a fleet image would be laid out for the Pi
 * firmware's tryboot: a boot-selector FAT partition holding `autoboot.txt`, boot A and B
 * (FAT), root A and B (ext4) and data (ext4). Each filesystem holds a few files, some of
 * them random, so the image has both mapped and all-zero ranges; boot and root A/B also hold
 * a multi-MiB file of zeros (`zeros.bin`) whose blocks are allocated — zeros a flash must
 * write, as a used card's old bytes there would be read as the file.
 *
 *   node build/make-test-image.ts --out test-image.img [--table gpt|mbr]
 *
 * Needs sfdisk (fdisk), mkfs.vfat (dosfstools), mcopy (mtools) and mkfs.ext4 (e2fsprogs);
 * nothing is mounted, so it runs without privileges.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, open, rm, truncate, writeFile, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs, promisify } from 'node:util';

const run = promisify(execFile);
const mib = 1 << 20;

export const autobootTxt = '[all]\ntryboot_a_b=1\nboot_partition=2\n';
export const testImageSize = 80 * mib;
/** Bytes of the all-zero `zeros.bin` in boot A/B (FAT) and root A/B (ext4). */
export const zeroFileBytes = { fat: 2 * mib + 4321, ext4: 3 * mib + 1234 } as const;

type FsSpec = { role: string; kind: 'vfat' | 'ext4'; sizeMiB: number; label: string };
const filesystems: FsSpec[] = [
  { role: 'bootsel', kind: 'vfat', sizeMiB: 4, label: 'BOOTSEL' },
  { role: 'boot_a', kind: 'vfat', sizeMiB: 16, label: 'BOOT_A' },
  { role: 'boot_b', kind: 'vfat', sizeMiB: 16, label: 'BOOT_B' },
  { role: 'root_a', kind: 'ext4', sizeMiB: 16, label: 'root_a' },
  { role: 'root_b', kind: 'ext4', sizeMiB: 12, label: 'root_b' },
  { role: 'data', kind: 'ext4', sizeMiB: 12, label: 'data' },
];

const fatGuid = 'EBD0A0A2-B9E5-4433-87C0-68B6B72699C7';
const linuxGuid = '0FC63DAF-8483-4772-8E79-3D69E4D4C4E4';

function sfdiskScript(table: 'gpt' | 'mbr'): string {
  if (table === 'gpt') {
    return ['label: gpt', ...filesystems.map((f) => `size=${f.sizeMiB}MiB, type=${f.kind === 'vfat' ? fatGuid : linuxGuid}, name=${f.role}`)].join('\n') + '\n';
  }
  // Six partitions need an extended partition: three primaries, then root A/B and data as logicals 5-7.
  const line = (f: FsSpec): string => `size=${f.sizeMiB}MiB, type=${f.kind === 'vfat' ? 'c' : '83'}`;
  return ['label: dos', ...filesystems.slice(0, 3).map(line), 'type=5', ...filesystems.slice(3).map(line)].join('\n') + '\n';
}

async function populateFat(file: string, spec: FsSpec, work: string): Promise<void> {
  await run('mkfs.vfat', ['-n', spec.label, '-i', '12345678', file]);
  const files: Record<string, Buffer> =
    spec.role === 'bootsel'
      ? { 'autoboot.txt': Buffer.from(autobootTxt) }
      : {
          'config.txt': Buffer.from(`# ${spec.role}\narm_64bit=1\nenable_uart=1\n`),
          'cmdline.txt': Buffer.from(`console=serial0,115200 root=PARTUUID=${spec.role === 'boot_a' ? 'root_a' : 'root_b'} rootwait\n`),
          'kernel8.img': randomBytes(mib + 12345),
          // FAT allocates every cluster of a file: mcopy writes these zeros as data clusters.
          'zeros.bin': Buffer.alloc(zeroFileBytes.fat),
        };
  for (const [name, content] of Object.entries(files)) {
    const local = path.join(work, `${spec.role}-${name}`);
    await writeFile(local, content);
    await run('mcopy', ['-i', file, local, `::${name}`]);
  }
}

async function populateExt4(file: string, spec: FsSpec, work: string): Promise<void> {
  const tree = path.join(work, `tree-${spec.role}`);
  await mkdir(path.join(tree, 'etc'), { recursive: true });
  await writeFile(path.join(tree, 'etc', 'hostname'), `fieldkit-${spec.role}\n`);
  if (spec.role !== 'data') {
    await writeFile(path.join(tree, 'payload.bin'), randomBytes(2 * mib + 777));
    // mke2fs -d leaves a file's zero blocks as holes, so the file is written non-zero and its
    // allocated blocks zeroed afterwards: a file of zeros that occupies blocks.
    await writeFile(path.join(tree, 'zeros.bin'), Buffer.alloc(zeroFileBytes.ext4, 0xff));
  }
  await run('mkfs.ext4', ['-q', '-F', '-L', spec.label, '-d', tree, file]);
  if (spec.role !== 'data') await zeroFileBlocks(file, '/zeros.bin');
}

/** Zeroes the data blocks of `inside` in the ext filesystem image `file` (not its extent tree, which lives in the inode here). */
async function zeroFileBlocks(file: string, inside: string): Promise<void> {
  const header = (await run('dumpe2fs', ['-h', file])).stdout;
  const blockSize = Number(/^Block size:\s+(\d+)/m.exec(header)?.[1]);
  const blocks = (await run('debugfs', ['-R', `blocks ${inside}`, file])).stdout.trim().split(/\s+/).map(Number);
  if (!(blockSize > 0) || blocks.length === 0 || blocks.some((b) => !Number.isInteger(b) || b <= 0)) throw new Error(`cannot find the blocks of ${inside} in ${file}`);
  const fs = await open(file, 'r+');
  try {
    const zeros = Buffer.alloc(blockSize);
    for (const block of blocks) await fs.write(zeros, 0, blockSize, block * blockSize);
  } finally {
    await fs.close();
  }
}

/** Writes the image to `out`, replacing it. */
export async function makeTestImage(out: string, table: 'gpt' | 'mbr' = 'gpt'): Promise<void> {
  const work = await mkdtemp(path.join(tmpdir(), 'fieldkit-test-image-'));
  try {
    await rm(out, { force: true });
    await writeFile(out, '');
    await truncate(out, testImageSize);
    const child = execFile('sfdisk', ['--quiet', '--no-reread', '--no-tell-kernel', out]);
    const done = new Promise<void>((resolve, reject) => {
      child.on('error', reject);
      child.on('exit', (code) => { if (code === 0) resolve(); else reject(new Error(`sfdisk exited with ${String(code)}`)); });
    });
    child.stdin?.end(sfdiskScript(table));
    await done;
    const { stdout } = await run('sfdisk', ['--json', out]);
    const layout = JSON.parse(stdout) as { partitiontable: { partitions: { start: number; size: number; type: string }[] } };
    const data = layout.partitiontable.partitions.filter((p) => !['5', 'f', '85'].includes(p.type));
    const image = await open(out, 'r+');
    try {
      for (const [i, spec] of filesystems.entries()) {
        const part = data[i];
        if (part === undefined) throw new Error(`sfdisk made fewer partitions than expected (${data.length})`);
        const file = path.join(work, `${spec.role}.fs`);
        await writeFile(file, '');
        await truncate(file, part.size * 512);
        if (spec.kind === 'vfat') await populateFat(file, spec, work);
        else await populateExt4(file, spec, work);
        await copyNonZeroChunks(file, image, part.start * 512, part.size * 512);
      }
    } finally {
      await image.close();
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/**
 * Copies `length` bytes of the filesystem file `from` into `image` at `offset`, only its
 * non-zero 64 KiB chunks, so the image stays sparse like a real one.
 */
export async function copyNonZeroChunks(from: string, image: FileHandle, offset: number, length: number): Promise<void> {
  const fs = await open(from, 'r');
  try {
    const chunk = Buffer.alloc(64 * 1024);
    for (let at = 0; at < length; at += chunk.length) {
      const { bytesRead } = await fs.read(chunk, 0, chunk.length, at);
      const piece = chunk.subarray(0, bytesRead);
      if (!piece.every((b) => b === 0)) await image.write(piece, 0, bytesRead, offset + at);
    }
  } finally {
    await fs.close();
  }
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { out: { type: 'string', default: 'test-image.img' }, table: { type: 'string', default: 'gpt' } } });
  const table = values.table === 'mbr' ? 'mbr' : 'gpt';
  await makeTestImage(path.resolve(values.out), table);
  process.stdout.write(`Wrote ${values.out} (${table}, ${testImageSize / mib} MiB)\n`);
}
