/**
 * The laptop's check of a device's backup stream: only a whole, manifest-matching tar with
 * both end blocks is verified, and the held-back tail is released only then.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createTarStreamVerifier, HOLD_BACK_BYTES } from '../../electron/backup/tarStreamVerifier.ts';
import { ustarHeader } from '../../electron/kernel/signing/ustarArchive.ts';
import { BACKUP_MANIFEST_NAME, type BackupManifest } from '../../shared/backupStream.ts';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const pad = (n: number) => Buffer.alloc((512 - (n % 512)) % 512);

function member(path: string, bytes: Buffer): Buffer {
  return Buffer.concat([ustarHeader(path, 0o644, bytes.length, 1_700_000_000), bytes, pad(bytes.length)]);
}

function paxMember(path: string, bytes: Buffer): Buffer {
  const record = (key: string, value: string) => {
    const body = ` ${key}=${value}\n`;
    let len = body.length + 1;
    while (String(len).length + body.length !== len) len = String(len).length + body.length;
    return `${String(len)}${body}`;
  };
  const pax = Buffer.from(record('path', path));
  const header = ustarHeader('PaxHeader/long', 0o644, pax.length, 1_700_000_000);
  header[156] = 'x'.charCodeAt(0);
  // Re-checksum after the type change.
  header.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of header) sum += b;
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return Buffer.concat([header, pax, pad(pax.length), member('short-name-replaced', bytes)]);
}

const files = [
  { path: '/etc/fieldkit-agent/config.json', bytes: Buffer.from('{"device_id":"pi-1"}\n') },
  { path: '/var/lib/fieldkit-agent/journal.db', bytes: Buffer.alloc(70_000, 7) },
];

function manifestOf(list: typeof files, overrides: Partial<BackupManifest> = {}): Buffer {
  const manifest: BackupManifest = {
    formatVersion: 1,
    deviceId: 'pi-1',
    site: 'depot',
    class: 'state',
    takenAt: 1_700_000_000_000,
    agentVersion: '0.1.0',
    imageVersion: null,
    modelVersion: null,
    files: list.map((f) => ({ path: f.path, size: f.bytes.length, mode: 0o644, mtimeMs: 0, sha256: sha(f.bytes), kind: 'file' as const })),
    missing: [],
    journalLastSeq: null,
    ...overrides,
  };
  return Buffer.from(JSON.stringify(manifest));
}

function stream(list = files, options: { manifest?: Buffer; endBlocks?: number; manifestFirst?: boolean } = {}): Buffer {
  const body = list.map((f) => member(f.path.slice(1), f.bytes));
  const m = member(BACKUP_MANIFEST_NAME, options.manifest ?? manifestOf(list));
  const parts = options.manifestFirst === true ? [m, ...body] : [...body, m];
  return Buffer.concat([...parts, Buffer.alloc(512 * (options.endBlocks ?? 2))]);
}

/** Feeds `bytes` in chunks of `size`; returns what was passed on and the verifier. */
function run(bytes: Buffer, size: number) {
  const verifier = createTarStreamVerifier({ deviceId: 'pi-1', class: 'state' });
  const passed: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += size) passed.push(...verifier.feed(bytes.subarray(at, at + size)));
  return { verifier, passed: Buffer.concat(passed) };
}

describe('the backup stream verifier', () => {
  it.each([1, 511, 512, 4096, 1 << 20])('verifies a whole stream fed in %i-byte chunks and releases the held-back tail only at the end', (size) => {
    const bytes = stream();
    const { verifier, passed } = run(bytes, size);
    expect(passed.length).toBe(bytes.length - HOLD_BACK_BYTES);
    const { tail, verified } = verifier.finish();
    expect(Buffer.concat([passed, tail]).equals(bytes)).toBe(true);
    expect(verified).toMatchObject({ files: 2, fileBytes: files.reduce((n, f) => n + f.bytes.length, 0), streamBytes: bytes.length });
  });

  it('accepts a record padded with extra zero blocks (GNU tar) and pax long names', () => {
    const long = { path: `/srv/${'d'.repeat(120)}/data.bin`, bytes: Buffer.from('hello') };
    const list = [...files, long];
    const bytes = Buffer.concat([...files.map((f) => member(f.path.slice(1), f.bytes)), paxMember(long.path.slice(1), long.bytes), member(BACKUP_MANIFEST_NAME, manifestOf(list)), Buffer.alloc(512 * 18)]);
    const { verifier } = run(bytes, 1000);
    expect(verifier.finish().verified.files).toBe(3);
  });

  it('refuses a stream cut anywhere before its end', () => {
    const bytes = stream();
    for (const cut of [0, 100, 512, 40_000, bytes.length - 1024, bytes.length - 512, bytes.length - 1]) {
      const { verifier } = run(bytes.subarray(0, cut), 4096);
      expect(() => verifier.finish(), `cut at ${String(cut)}`).toThrow(/not valid/);
    }
  });

  it('refuses a flipped byte in a file, a manifest that lists another file, and a manifest not last', () => {
    const flipped = stream();
    flipped.writeUInt8((flipped.readUInt8(3 * 512 + 10) ^ 0xff) & 0xff, 3 * 512 + 10); // inside the second file's content (after its header at 1024)
    expect(() => run(flipped, 4096).verifier.finish()).toThrow(/SHA-256/);
    const extra = stream(files, { manifest: manifestOf([...files, { path: '/etc/other', bytes: Buffer.from('x') }]) });
    expect(() => run(extra, 4096).verifier.finish()).toThrow(/in the manifest but not in the stream/);
    expect(() => run(stream(files, { manifestFirst: true }), 4096)).toThrow(/follows the manifest/);
    expect(() => run(stream(files, { manifest: manifestOf(files, { class: 'config' }) }), 4096)).toThrow(/class config/);
  });

  it('refuses garbage after the end and a damaged header', () => {
    const trailing = Buffer.concat([stream(), Buffer.from('x'.repeat(512))]);
    expect(() => run(trailing, 4096)).toThrow(/follow the end/);
    const header = stream();
    header.writeUInt8(header.readUInt8(0) ^ 0x01, 0);
    expect(() => run(header, 4096)).toThrow(/checksum/);
  });
});
