/**
 * Checks a device's backup stream (shared/backupStream.ts) while it passes through to
 * restic: tar headers (checksums, pax and GNU long names), the SHA-256 of every member as
 * it streams, the manifest that comes LAST, and both zero blocks at the end. Nothing is
 * stored: each member is hashed on the fly; only the manifest (small JSON) is kept.
 *
 * `feed` returns the bytes that may go on to restic now; the last `HOLD_BACK_BYTES` are
 * held back until `finish()` has proved the whole stream, so restic never receives a
 * complete-looking stream that was not verified. Any violation throws a VERIFICATION_FAILED
 * FieldkitError at once (the caller kills restic).
 */
import { createHash, type Hash } from 'node:crypto';
import { BACKUP_MANIFEST_NAME, BackupManifestSchema, type BackupManifest } from '../../shared/backupStream.ts';
import { appError, FieldkitError } from '../../shared/errors.ts';

const BLOCK = 512;
/** The two zero blocks: without them the stream is not complete. */
export const HOLD_BACK_BYTES = 2 * BLOCK;
/** A manifest beyond this is not one the agent wrote. */
const MAX_MANIFEST_BYTES = 64 * 1024 * 1024;
/** pax and GNU long-name headers are small. */
const MAX_META_BYTES = 1024 * 1024;

export type VerifiedStream = {
  manifest: BackupManifest;
  /** Bytes of the whole stream (as restic stored them). */
  streamBytes: number;
  /** Regular files in the stream, the manifest excluded. */
  files: number;
  /** Their content bytes. */
  fileBytes: number;
};

type Member = { name: string; type: string; size: number };

type State =
  | { kind: 'header' }
  | { kind: 'data'; member: Member; left: number; hash: Hash | null; keep: Buffer[] | null }
  | { kind: 'padding'; left: number; after: 'header' }
  | { kind: 'end'; zeroBlocks: number };

function bad(what: string): FieldkitError {
  return new FieldkitError(
    appError('VERIFICATION_FAILED', `The backup stream from the device is not valid: ${what}. No snapshot was kept.`, 'Run the backup again; if it repeats, update the agent on the device (fieldkit deploy) and check its storage.'),
  );
}

function octal(block: Buffer, start: number, length: number, field: string): number {
  const raw = block.subarray(start, start + length);
  // GNU base-256 for sizes over 8 GiB.
  if (((raw[0] ?? 0) & 0x80) !== 0) {
    let value = 0;
    for (let i = 1; i < raw.length; i++) value = value * 256 + (raw[i] ?? 0);
    return value;
  }
  const text = raw.toString('latin1').replace(/\0.*$/s, '').trim();
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) throw bad(`a tar header's ${field} is not a number ("${text}")`);
  return parseInt(text, 8);
}

function cString(block: Buffer, start: number, length: number): string {
  const raw = block.subarray(start, start + length);
  const nul = raw.indexOf(0);
  return raw.subarray(0, nul === -1 ? raw.length : nul).toString('utf8');
}

function checksumHolds(block: Buffer): boolean {
  const stored = octal(block, 148, 8, 'checksum');
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : (block[i] ?? 0);
  return sum === stored;
}

function paxPath(records: Buffer): string | null {
  let found: string | null = null;
  let at = 0;
  while (at < records.length) {
    const space = records.indexOf(0x20, at);
    if (space === -1) break;
    const length = Number(records.subarray(at, space).toString('latin1'));
    if (!Number.isInteger(length) || length <= 0) throw bad('a pax header record has no length');
    const record = records.subarray(space + 1, at + length - 1).toString('utf8');
    const eq = record.indexOf('=');
    if (record.slice(0, eq) === 'path') found = record.slice(eq + 1);
    at += length;
  }
  return found;
}

export type TarStreamVerifier = {
  /** Takes the next bytes from the device; returns what may be passed on now. */
  feed(chunk: Buffer): Buffer[];
  /** After the device's stream ended: proves it whole and returns the held-back bytes. */
  finish(): { tail: Buffer; verified: VerifiedStream };
  bytesRead(): number;
};

export function createTarStreamVerifier(expected: { deviceId?: string; class?: BackupManifest['class'] } = {}): TarStreamVerifier {
  let state: State = { kind: 'header' };
  let pending: Buffer = Buffer.alloc(0);
  let held: Buffer = Buffer.alloc(0);
  let total = 0;
  let nextName: string | null = null;
  let manifest: BackupManifest | null = null;
  const seen = new Map<string, { size: number; sha256: string }>();
  let fileBytes = 0;

  function onHeader(block: Buffer, offset: number): void {
    if (block.every((b) => b === 0)) {
      if (manifest === null) throw bad(`it ended before the manifest (${BACKUP_MANIFEST_NAME})`);
      state = { kind: 'end', zeroBlocks: 1 };
      return;
    }
    if (manifest !== null) throw bad('a member follows the manifest, which must be last');
    if (!checksumHolds(block)) throw bad(`a tar header's checksum does not match (at byte ${String(offset)})`);
    const type = String.fromCharCode(block[156] ?? 0).replace('\0', '0');
    const size = octal(block, 124, 12, 'size');
    const prefix = block.subarray(257, 263).toString('latin1').startsWith('ustar') ? cString(block, 345, 155) : '';
    const plain = prefix === '' ? cString(block, 0, 100) : `${prefix}/${cString(block, 0, 100)}`;
    const name = nextName ?? plain;
    if (type === 'x' || type === 'L') {
      if (size > MAX_META_BYTES) throw bad('a long-name header is too big');
      state = { kind: 'data', member: { name, type, size }, left: size, hash: null, keep: [] };
    } else if (type === 'g') {
      state = { kind: 'data', member: { name, type, size }, left: size, hash: null, keep: null };
    } else {
      nextName = null;
      const isManifest = name === BACKUP_MANIFEST_NAME;
      if (isManifest && size > MAX_MANIFEST_BYTES) throw bad('the manifest is too big');
      const carries = type === '0' || type === '7';
      if (!carries && size !== 0 && type !== '5') throw bad(`member ${name} has an unexpected type "${type}"`);
      state = { kind: 'data', member: { name, type, size }, left: size, hash: carries && !isManifest ? createHash('sha256') : null, keep: isManifest ? [] : null };
    }
    if (size === 0) endMember();
  }

  function endMember(): void {
    if (state.kind !== 'data') return;
    const { member, hash, keep } = state;
    if (member.type === 'x') nextName = paxPath(Buffer.concat(keep ?? [])) ?? nextName;
    else if (member.type === 'L') nextName = Buffer.concat(keep ?? []).toString('utf8').replace(/\0+$/, '');
    else if (member.name === BACKUP_MANIFEST_NAME) manifest = parseManifest(Buffer.concat(keep ?? []));
    else if (hash !== null) {
      const path = `/${member.name.replace(/^\.?\/+/, '')}`;
      if (seen.has(path)) throw bad(`${path} appears twice`);
      seen.set(path, { size: member.size, sha256: hash.digest('hex') });
      fileBytes += member.size;
    }
    const pad = (BLOCK - (member.size % BLOCK)) % BLOCK;
    state = pad === 0 ? { kind: 'header' } : { kind: 'padding', left: pad, after: 'header' };
  }

  function parseManifest(bytes: Buffer): BackupManifest {
    let json: unknown;
    try {
      json = JSON.parse(bytes.toString('utf8'));
    } catch {
      throw bad('the manifest is not JSON');
    }
    const parsed = BackupManifestSchema.safeParse(json);
    if (!parsed.success) throw bad(`the manifest does not match the format (${parsed.error.issues[0]?.message ?? 'invalid'})`);
    const m = parsed.data;
    if (expected.deviceId !== undefined && m.deviceId !== expected.deviceId) throw bad(`the manifest names device ${m.deviceId}, not ${expected.deviceId}`);
    if (expected.class !== undefined && m.class !== expected.class) throw bad(`the manifest is for class ${m.class}, not ${expected.class}`);
    return m;
  }

  /** Consumes what `pending` holds, as far as whole steps allow. */
  function advance(): void {
    let at = 0;
    for (;;) {
      const available = pending.length - at;
      if (state.kind === 'data' && state.left > 0) {
        if (available === 0) break;
        const take = Math.min(available, state.left);
        const piece = pending.subarray(at, at + take);
        state.hash?.update(piece);
        state.keep?.push(Buffer.from(piece));
        state.left -= take;
        at += take;
        if (state.left === 0) endMember();
        continue;
      }
      if (state.kind === 'padding') {
        const take = Math.min(available, state.left);
        at += take;
        state.left -= take;
        if (state.left > 0) break;
        state = { kind: 'header' };
        continue;
      }
      if (available < BLOCK) break;
      const block = pending.subarray(at, at + BLOCK);
      at += BLOCK;
      if (state.kind === 'end') {
        if (!block.every((b) => b === 0)) throw bad('bytes other than zeros follow the end of the archive');
        state.zeroBlocks++;
      } else {
        onHeader(block, total - pending.length + at - BLOCK);
      }
    }
    pending = at === pending.length ? Buffer.alloc(0) : Buffer.from(pending.subarray(at));
  }

  function compare(m: BackupManifest): void {
    const listed = new Map(m.files.map((f) => [f.path, f]));
    for (const [path, got] of seen) {
      const entry = listed.get(path);
      if (entry === undefined) throw bad(`${path} is in the stream but not in the manifest`);
      if (entry.size !== got.size) throw bad(`${path} has ${String(got.size)} bytes, the manifest says ${String(entry.size)}`);
      if (entry.sha256 !== got.sha256) throw bad(`${path} does not match its SHA-256 in the manifest`);
    }
    for (const path of listed.keys()) if (!seen.has(path)) throw bad(`${path} is in the manifest but not in the stream`);
  }

  return {
    feed(chunk) {
      total += chunk.length;
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      advance();
      // Pass on all but the last HOLD_BACK_BYTES seen so far (big chunks without a copy).
      if (chunk.length >= HOLD_BACK_BYTES) {
        const out = held.length === 0 ? [] : [held];
        out.push(chunk.subarray(0, chunk.length - HOLD_BACK_BYTES));
        held = Buffer.from(chunk.subarray(chunk.length - HOLD_BACK_BYTES));
        return out;
      }
      const all = Buffer.concat([held, chunk]);
      const cut = Math.max(0, all.length - HOLD_BACK_BYTES);
      held = Buffer.from(all.subarray(cut));
      return cut === 0 ? [] : [all.subarray(0, cut)];
    },
    finish() {
      if (pending.length !== 0 || state.kind !== 'end') {
        throw bad(state.kind === 'end' || manifest !== null ? 'it stopped before both end-of-archive zero blocks' : `it stopped after ${String(total)} bytes, before the manifest (the link dropped or the device command died)`);
      }
      if (state.zeroBlocks < 2) throw bad('it stopped before both end-of-archive zero blocks');
      const m: BackupManifest | null = manifest;
      if (m === null) throw bad('it has no manifest');
      compare(m);
      return { tail: held, verified: { manifest: m, streamBytes: total, files: seen.size, fileBytes } };
    },
    bytesRead: () => total,
  };
}
