/**
 * `backup-restore --class C`: a class's tar stream (as backup-stream wrote it and restic
 * kept it) read from stdin and put back in place. Nothing is replaced until the whole stream
 * was read and every member matched the manifest (which comes last): each file is first
 * written and fsynced beside its destination under a temporary name, and only then renamed
 * over it (each file atomically). A stream that is cut, damaged, for another class or
 * another device leaves every destination as it was (the temporary files are removed).
 *
 * - `--keep P`: members under P are checked but not written (a drill's spare keeps its own
 *   SSH host keys and hostname, so the laptop's pinned key for it still holds).
 * - `--keep-config K`: the agent config's key K (dotted: `ingest.port`) stays as it is here.
 *   The uplink password, which backups hold only redacted, always stays as it is here.
 * - A database (manifest kind sqlite) replaces its -wal and -shm too: an old WAL beside a
 *   restored file would be replayed into it.
 * - Each file takes its manifest mode, and the owner of the file it replaces (else of its
 *   folder): uids differ between a device and its spare.
 */
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, chownSync, closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { BACKUP_MANIFEST_NAME, BackupManifestSchema, type BackupClass, type BackupManifest } from '../../shared/backupStream.ts';
import { redactedSecret } from '../rpc/configRedaction.ts';
import { readTar, type MemberWriter } from './tarReader.ts';

export type RestoreClassOptions = {
  cls: BackupClass;
  configPath: string;
  input: AsyncIterable<Buffer>;
  keepPaths: readonly string[];
  keepConfig: readonly string[];
  /** Refuse a stream of another device. */
  expectDevice: string | null;
};

export type RestoreReport = {
  class: BackupClass;
  device_id: string;
  files: number;
  bytes: number;
  written: string[];
  kept: string[];
  databases: string[];
  journal_last_seq: number | null;
};

type Received = { dest: string; temp: string | null; size: number; sha256: string };

const maxManifestBytes = 64 * 1024 * 1024;
const temps = new Set<string>();

/** Removes this run's temporary files (a signal, a failure). */
export function removeRestoreTemps(): void {
  for (const t of temps) rmSync(t, { force: true });
  temps.clear();
}

function isKept(dest: string, keepPaths: readonly string[]): boolean {
  return keepPaths.some((k) => dest === k || dest.startsWith(`${k.replace(/\/+$/, '')}/`));
}

function memoryWriter(into: Buffer[]): MemberWriter {
  let total = 0;
  return {
    write(chunk) {
      total += chunk.length;
      if (total > maxManifestBytes) return Promise.reject(new Error('the manifest is larger than any real one'));
      into.push(Buffer.from(chunk));
      return Promise.resolve();
    },
    end: () => Promise.resolve(),
  };
}

function fileWriter(dest: string, received: Map<string, Received>, keep: boolean): MemberWriter {
  const hash = createHash('sha256');
  let size = 0;
  let handle: Promise<FileHandle> | null = null;
  let temp: string | null = null;
  if (!keep) {
    mkdirSync(dirname(dest), { recursive: true });
    temp = join(dirname(dest), `.fieldkit-restore-${randomBytes(4).toString('hex')}-${basename(dest)}`);
    temps.add(temp);
    handle = open(temp, 'wx', 0o600);
  }
  return {
    async write(chunk) {
      hash.update(chunk);
      size += chunk.length;
      if (handle !== null) await (await handle).write(chunk);
    },
    async end() {
      if (handle !== null) {
        const h = await handle;
        await h.sync();
        await h.close();
      }
      if (received.has(dest)) throw new Error(`${dest} is twice in the stream`);
      received.set(dest, { dest, temp, size, sha256: hash.digest('hex') });
    },
  };
}

function check(manifest: BackupManifest, received: Map<string, Received>, options: RestoreClassOptions): void {
  if (manifest.class !== options.cls) throw new Error(`the stream holds the ${manifest.class} class, not ${options.cls}`);
  if (options.expectDevice !== null && manifest.deviceId !== options.expectDevice) throw new Error(`the stream is a backup of ${manifest.deviceId}, not ${options.expectDevice}`);
  const named = new Set(manifest.files.map((f) => resolve(f.path)));
  for (const file of manifest.files) {
    const got = received.get(resolve(file.path));
    if (got === undefined) throw new Error(`${file.path} is in the manifest but not in the stream`);
    if (got.size !== file.size || got.sha256 !== file.sha256) throw new Error(`${file.path} does not match the manifest (${String(got.size)} bytes, SHA-256 ${got.sha256.slice(0, 16)}…; manifest: ${String(file.size)} bytes, ${file.sha256.slice(0, 16)}…)`);
  }
  for (const dest of received.keys()) if (!named.has(dest)) throw new Error(`${dest} is in the stream but not in the manifest`);
}

function getPath(value: unknown, keys: readonly string[]): unknown {
  return keys.reduce<unknown>((v, k) => (typeof v === 'object' && v !== null ? (v as Record<string, unknown>)[k] : undefined), value);
}

function setPath(value: Record<string, unknown>, keys: readonly string[], to: unknown): void {
  let at: Record<string, unknown> = value;
  for (const k of keys.slice(0, -1)) {
    const next = at[k];
    if (typeof next !== 'object' || next === null) return;
    at = next as Record<string, unknown>;
  }
  const last = keys.at(-1);
  if (last !== undefined) at[last] = to;
}

/** The restored agent config with what stays local (the uplink password, --keep-config keys) taken from the one here. */
function mergeConfig(temp: string, dest: string, keepConfig: readonly string[]): void {
  if (!existsSync(dest)) return;
  const restored = JSON.parse(readFileSync(temp, 'utf8')) as Record<string, unknown>;
  const here = JSON.parse(readFileSync(dest, 'utf8')) as Record<string, unknown>;
  if (getPath(restored, ['uplink', 'password']) === redactedSecret) setPath(restored, ['uplink', 'password'], getPath(here, ['uplink', 'password']) ?? '');
  for (const key of keepConfig) {
    const path = key.split('.');
    const local = getPath(here, path);
    if (local !== undefined) setPath(restored, path, local);
  }
  writeFileSync(temp, `${JSON.stringify(restored, null, 2)}\n`);
}

function ownerFor(dest: string): { uid: number; gid: number } {
  const s = statSync(existsSync(dest) ? dest : dirname(dest));
  return { uid: s.uid, gid: s.gid };
}

function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Reads, checks, then puts the class in place; throws (nothing replaced) on any mismatch. */
export async function restoreClass(options: RestoreClassOptions): Promise<RestoreReport> {
  const received = new Map<string, Received>();
  const manifestChunks: Buffer[] = [];
  const keepPaths = options.keepPaths.map((p) => resolve(p));
  try {
    await readTar(options.input, (member) => {
      if (member.path === BACKUP_MANIFEST_NAME) return Promise.resolve(memoryWriter(manifestChunks));
      const dest = resolve('/', member.path);
      if (member.path.split('/').includes('..')) return Promise.reject(new Error(`member ${member.path} leaves the root`));
      return Promise.resolve(fileWriter(dest, received, isKept(dest, keepPaths)));
    });
    if (manifestChunks.length === 0) throw new Error('the stream holds no manifest: it is not a whole backup');
    const manifest = BackupManifestSchema.parse(JSON.parse(Buffer.concat(manifestChunks).toString('utf8')));
    check(manifest, received, options);
    const configPath = resolve(options.configPath);
    const written: string[] = [];
    const kept: string[] = [];
    for (const file of manifest.files) {
      const got = received.get(resolve(file.path));
      if (got === undefined) continue;
      if (got.temp === null) {
        kept.push(got.dest);
        continue;
      }
      if (got.dest === configPath) mergeConfig(got.temp, got.dest, options.keepConfig);
      const owner = ownerFor(got.dest);
      chmodSync(got.temp, file.mode & 0o7777);
      chownSync(got.temp, owner.uid, owner.gid);
      if (file.kind === 'sqlite') for (const side of ['-wal', '-shm', '-journal']) rmSync(`${got.dest}${side}`, { force: true });
      renameSync(got.temp, got.dest);
      temps.delete(got.temp);
      fsyncDir(dirname(got.dest));
      written.push(got.dest);
    }
    return {
      class: manifest.class,
      device_id: manifest.deviceId,
      files: manifest.files.length,
      bytes: manifest.files.reduce((s, f) => s + f.size, 0),
      written,
      kept,
      databases: manifest.files.filter((f) => f.kind === 'sqlite').map((f) => f.path),
      journal_last_seq: manifest.journalLastSeq,
    };
  } finally {
    removeRestoreTemps();
  }
}
