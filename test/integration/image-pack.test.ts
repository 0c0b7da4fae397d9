/**
 * `fieldkit image pack` on a real A/B test image (sfdisk, mkfs.vfat, mkfs.ext4), held
 * against the stock tools: our MBR and GPT reader against `sfdisk --json`, each block-map
 * range against `dd | sha256sum`, the payload against `zstd -d` + `cmp`, and the manifest
 * signature against stock `minisign -V`.
 */
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { autobootTxt, makeTestImage, testImageSize } from '../../build/make-test-image.ts';
import { scanImage } from '../../electron/kernel/image/blockMap.ts';
import { packImage, type PackedImage } from '../../electron/kernel/image/packImage.ts';
import { readPartitionTable } from '../../electron/kernel/image/partitionTable.ts';
import { verifyImage } from '../../electron/kernel/image/verifyImage.ts';
import { generateSecretKey } from '../../electron/kernel/signing/minisign.ts';
import { formatPublicKey, publicKeyOf } from '../../electron/kernel/signing/minisignFormat.ts';
import { listUstar } from '../../electron/kernel/signing/ustarArchive.ts';
import { mappedBytes } from '../../shared/image.ts';
import { runCliProcess } from '../support/runCliProcess.ts';
import { makeTempDir } from '../support/tempDir.ts';

const run = promisify(execFile);
const dir = makeTempDir('fieldkit-image-pack-');
const at = (name: string): string => path.join(dir.path, name);
const key = generateSecretKey();
let packed: PackedImage;

type SfdiskJson = { partitiontable: { label: string; partitions: { node: string; start: number; size: number; type: string; name?: string }[] } };

async function sfdisk(file: string): Promise<SfdiskJson> {
  return JSON.parse((await run('sfdisk', ['--json', file])).stdout) as SfdiskJson;
}

beforeAll(async () => {
  await makeTestImage(at('gpt.img'), 'gpt');
  await makeTestImage(at('mbr.img'), 'mbr');
  writeFileSync(at('key.pub'), formatPublicKey(publicKeyOf(key)));
  packed = await packImage(at('gpt.img'), at('gpt.fkimg'), { product: 'demo-os', version: '1.2.0', sequence: 7, boards: ['pi4', 'pi5'], expiresDays: 30, key });
}, 30_000);
afterAll(() => {
  dir.remove();
});

describe('the test image', () => {
  it('has the A/B layout and a boot selector holding autoboot.txt for tryboot', async () => {
    const { stdout } = await run('mtype', ['-i', `${at('gpt.img')}@@1M`, '::autoboot.txt']);
    expect(stdout).toBe(autobootTxt);
    expect(autobootTxt).toContain('tryboot_a_b=1');
    expect(packed.manifest.layout.partitions.map((p) => p.role)).toEqual(['bootsel', 'boot_a', 'boot_b', 'root_a', 'root_b', 'data']);
    expect(packed.manifest.payload.raw_size).toBe(testImageSize);
  });
});

describe('partition table reader', () => {
  for (const table of ['gpt', 'mbr'] as const) {
    it(`agrees with sfdisk --json on the ${table} image`, async () => {
      const ours = await readPartitionTable(at(`${table}.img`));
      const theirs = await sfdisk(at(`${table}.img`));
      expect(ours.table).toBe(table);
      expect(theirs.partitiontable.label).toBe(table === 'gpt' ? 'gpt' : 'dos');
      expect(ours.partitions.map((p) => ({ index: p.index, start: p.start / 512, size: p.size / 512, type: p.type, name: p.name }))).toEqual(
        theirs.partitiontable.partitions.map((p) => ({ index: Number(/(\d+)$/.exec(p.node)?.[1]), start: p.start, size: p.size, type: p.type.toLowerCase().padStart(table === 'mbr' ? 2 : 0, '0'), name: p.name })),
      );
      expect(ours.partitions.length).toBe(table === 'gpt' ? 6 : 7);
    });
  }
  it('records the MBR image with logicals and without the extended container', async () => {
    const packedMbr = await packImage(at('mbr.img'), at('mbr.fkimg'), { product: 'demo-os', version: '1.2.0', sequence: 7, boards: ['cm4'], expiresDays: 1, key });
    expect(packedMbr.manifest.layout.table).toBe('mbr');
    expect(packedMbr.manifest.layout.partitions.map((p) => `${p.index}:${p.role}:${p.type}`)).toEqual(['1:bootsel:0c', '2:boot_a:0c', '3:boot_b:0c', '5:root_a:83', '6:root_b:83', '7:data:83']);
  });
});

describe('block map', () => {
  it('skips the all-zero blocks and nothing else', async () => {
    const map = packed.manifest.block_map;
    expect(map.ranges.length).toBeGreaterThan(2);
    const mapped = mappedBytes(map);
    expect(mapped).toBeGreaterThan(0);
    expect(mapped).toBeLessThan(testImageSize / 2);
    const image = await open(at('gpt.img'), 'r');
    try {
      const block = Buffer.alloc(map.block_size);
      let end = 0;
      for (const range of [...map.ranges, { offset: testImageSize, length: 0 }]) {
        // Every block in a gap is zero, and each range starts and ends on a block with data.
        for (let gap = end; gap < range.offset; gap += map.block_size) {
          await image.read(block, 0, map.block_size, gap);
          expect(block.every((b) => b === 0), `block at ${gap}`).toBe(true);
        }
        if (range.length > 0) {
          for (const edge of [range.offset, range.offset + range.length - map.block_size]) {
            await image.read(block, 0, map.block_size, edge);
            expect(block.some((b) => b !== 0), `block at ${edge}`).toBe(true);
          }
        }
        end = range.offset + range.length;
      }
    } finally {
      await image.close();
    }
  });

  it("each range's SHA-256 matches dd | sha256sum", async () => {
    for (const range of packed.manifest.block_map.ranges) {
      const { stdout } = await run('sh', ['-c', `dd if="$1" iflag=skip_bytes,count_bytes skip=${range.offset} count=${range.length} bs=1M status=none | sha256sum`, 'sh', at('gpt.img')]);
      expect(stdout.split(' ')[0], `range at ${range.offset}`).toBe(range.sha256);
    }
    const { stdout } = await run('sha256sum', [at('gpt.img')]);
    expect(stdout.split(' ')[0]).toBe(packed.manifest.payload.raw_sha256);
  });

  it('with 4 MiB blocks maps more bytes in fewer ranges', async () => {
    const coarse = await scanImage(at('gpt.img'), 4 << 20);
    expect(coarse.rawSha256).toBe(packed.manifest.payload.raw_sha256);
    expect(mappedBytes(coarse.blockMap)).toBeGreaterThanOrEqual(mappedBytes(packed.manifest.block_map));
    expect(coarse.blockMap.ranges.length).toBeLessThanOrEqual(packed.manifest.block_map.ranges.length);
  });
});

describe('packed image', () => {
  it('is a tar of manifest, signature and zstd payload that zstd -d turns back into the exact raw image', async () => {
    const members = await listUstar(at('gpt.fkimg'));
    expect(members.map((m) => m.path)).toEqual(['manifest.json', 'manifest.json.minisig', 'image.img.zst']);
    await run('tar', ['-xf', at('gpt.fkimg'), '-C', dir.path]);
    const { stdout } = await run('sha256sum', [at('image.img.zst')]);
    expect(stdout.split(' ')[0]).toBe(packed.manifest.payload.sha256);
    await run('zstd', ['-q', '-d', '-f', at('image.img.zst'), '-o', at('roundtrip.img')]);
    await run('cmp', [at('gpt.img'), at('roundtrip.img')]);
  });

  it('has a manifest signature the stock minisign -V accepts', async () => {
    await run('tar', ['-xf', at('gpt.fkimg'), '-C', dir.path, 'manifest.json', 'manifest.json.minisig']);
    const { stdout, stderr } = await run('minisign', ['-V', '-p', at('key.pub'), '-m', at('manifest.json')]);
    expect(stdout + stderr).toMatch(/Signature and comment signature verified/);
  });

  it('verifies end to end, payload streamed', async () => {
    const verified = await verifyImage(at('gpt.fkimg'), { trustedKeys: [publicKeyOf(key)], board: 'pi5' });
    expect(verified.payloadChecked).toBe(true);
    expect(verified.manifest).toEqual(packed.manifest);
  });
});

describe('fieldkit image CLI', () => {
  it('packs, verifies and inspects', async () => {
    expect((await runCliProcess(['keygen', '--out', at('cli-keys')])).code).toBe(0);
    const pack = await runCliProcess(['image', 'pack', at('gpt.img'), '--out', at('cli.fkimg'), '--product', 'demo-os', '--image-version', '2.0.0', '--sequence', '8', '--boards', 'pi5,cm5', '--expires-days', '10', '--key', at('cli-keys/fieldkit.key')]);
    expect(pack.stderr).toBe('');
    expect(pack.code).toBe(0);
    expect(pack.stdout).toMatch(/demo-os 2\.0\.0 \(sequence 8\) for pi5, cm5/);
    const verify = await runCliProcess(['image', 'verify', at('cli.fkimg'), '--pub', at('cli-keys/fieldkit.pub'), '--board', 'cm5']);
    expect(verify.code).toBe(0);
    expect(verify.stdout).toMatch(/^Verified .*cli\.fkimg: manifest signed by key [0-9A-F]{16}/);
    const inspect = await runCliProcess(['--json', 'image', 'inspect', at('cli.fkimg')]);
    expect(inspect.code).toBe(0);
    const shown = JSON.parse(inspect.stdout) as { signature: string; manifest: { layout: { partitions: { role: string }[] } } };
    expect(shown.signature).toBe('untrusted');
    expect(shown.manifest.layout.partitions.map((p) => p.role)).toContain('root_b');
    const wrongBoard = await runCliProcess(['image', 'verify', at('cli.fkimg'), '--pub', at('cli-keys/fieldkit.pub'), '--board', 'pi4']);
    expect(wrongBoard.code).toBe(1);
    expect(wrongBoard.stderr).toMatch(/not made for pi4; it lists pi5, cm5/);
  });

  it('puts in a signature the stock minisign made (image sign --sig), and re-signs with a key', async () => {
    await run('cp', [at('gpt.fkimg'), at('stock.fkimg')]);
    await run('minisign', ['-G', '-W', '-p', at('stock.pub'), '-s', at('stock.key')]);
    await run('mkdir', ['-p', at('stock')]);
    await run('tar', ['-xf', at('stock.fkimg'), '-C', at('stock'), 'manifest.json']);
    await run('minisign', ['-S', '-s', at('stock.key'), '-m', at('stock/manifest.json')]);
    const put = await runCliProcess(['image', 'sign', at('stock.fkimg'), '--sig', at('stock/manifest.json.minisig')]);
    expect(put.code).toBe(0);
    expect((await runCliProcess(['image', 'verify', at('stock.fkimg'), '--pub', at('stock.pub')])).code).toBe(0);
    const old = await runCliProcess(['image', 'verify', at('stock.fkimg'), '--pub', at('key.pub')]);
    expect(old.code).toBe(1);
    expect(old.stderr).toMatch(/which is not trusted/);
    expect((await runCliProcess(['image', 'sign', at('stock.fkimg'), '--key', at('cli-keys/fieldkit.key')])).code).toBe(0);
    expect((await runCliProcess(['image', 'verify', at('stock.fkimg'), '--pub', at('cli-keys/fieldkit.pub')])).code).toBe(0);
    // The payload was copied verbatim: the same bytes as the image it came from.
    await run('sh', ['-c', 'tar -xOf "$1" image.img.zst | cmp - "$2"', 'sh', at('stock.fkimg'), at('image.img.zst')]);
  });
});
