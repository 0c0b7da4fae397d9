/**
 * The device's content-addressed store, `<prefix>/objects/<sha256>`: a file crosses the
 * link only if no object has its hash, so the Node runtime travels once and a routine
 * update sends only what changed. A release (`<prefix>/releases/<v>`, `<prefix>/models/<v>`)
 * is assembled from objects with hard links, every file's SHA-256 is checked again on the
 * device, and only then does it take its final name (a half-built release never has one).
 */
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import type { BundleFile } from '../../shared/agentBundle.ts';
import { shellQuote } from '../kernel/link/shellQuote.ts';
import { FieldkitError } from '../../shared/errors.ts';
import { cancelled, linkLost, type RemoteSteps } from './remoteSteps.ts';
import type { BundleFileCache } from './signedBundle.ts';

export type Progress = { step: string; bytesDone: number; bytesTotal: number | null };

/** The files whose content the device lacks, one per distinct hash. */
export function missingObjects(files: readonly BundleFile[], present: ReadonlySet<string>): BundleFile[] {
  const seen = new Set<string>();
  return files.filter((file) => {
    if (present.has(file.sha256) || seen.has(file.sha256)) return false;
    seen.add(file.sha256);
    return true;
  });
}

/** Creates the prefix layout (root-owned) and an upload folder only the login user may write. */
export async function prepareStore(remote: RemoteSteps, prefix: string): Promise<void> {
  const p = shellQuote(prefix);
  // The upload folder sits on the prefix's filesystem, so moving an upload into the store
  // is a rename; it is emptied first (a dropped link leaves .fieldkit-part files behind).
  await remote.must(
    'prepare',
    `u=$(id -u); g=$(id -g); sudo -n sh -c "install -d -m 0755 ${p} ${p}/objects ${p}/releases && rm -rf ${p}/incoming && install -d -m 0700 -o $u -g $g ${p}/incoming"`,
    'Preparing the install folders',
  );
}

/**
 * Uploads the missing objects into `<prefix>/incoming` (Link.upload checks each SHA-256 on
 * the device before the final name), then moves them into the store as root. Over a serial
 * console each file crosses gzipped and is unpacked and checked there.
 */
export async function sendObjects(
  remote: RemoteSteps,
  options: {
    prefix: string;
    files: readonly BundleFile[];
    cache: BundleFileCache;
    stallMs: number;
    /** Counted as each file arrives, so a deploy that fails half-way still says what crossed. */
    sent: { bytesSent: number };
    signal?: AbortSignal | undefined;
    onProgress?: ((p: Progress) => void) | undefined;
  },
): Promise<void> {
  const { stallMs } = options;
  const total = options.files.reduce((sum, f) => sum + f.size, 0);
  let done = 0;
  options.onProgress?.({ step: 'upload', bytesDone: 0, bytesTotal: total });
  // A serial console moves ~10–30 kB/s: compress what crosses it (the agent's JS shrinks ~4×).
  const compress = remote.link.kind === 'serial';
  for (const file of options.files) {
    remote.throwIfCancelled();
    const local = compress ? await gzipped(await options.cache.localPath(file)) : await options.cache.localPath(file);
    const began = performance.now();
    const remotePath = `${options.prefix}/incoming/${file.sha256}${compress ? '.gz' : ''}`;
    const base = done;
    const shown = `upload ${file.path} (${String(file.size)} bytes${compress ? ', gzip' : ''}) → ${remotePath}`;
    // A connection that dies mid-transfer does not always fail the transfer: a watchdog
    // ends an upload that made no progress for `stallMs`, as a lost link.
    const watchdog = new AbortController();
    const onCancel = () => {
      watchdog.abort();
    };
    options.signal?.addEventListener('abort', onCancel, { once: true });
    const watch = { stalled: false };
    let timer = setTimeout(() => {
      watch.stalled = true;
      watchdog.abort();
    }, stallMs);
    try {
      const uploaded = await remote.link.upload(local, remotePath, {
        mode: 0o600,
        signal: watchdog.signal,
        onProgress: (bytes, of) => {
          clearTimeout(timer);
          timer = setTimeout(() => {
            watch.stalled = true;
            watchdog.abort();
          }, stallMs);
          options.onProgress?.({ step: 'upload', bytesDone: base + Math.round((bytes / Math.max(1, of)) * file.size), bytesTotal: total });
        },
      });
      if (!compress && uploaded.sha256 !== file.sha256) throw new Error(`${file.path} was uploaded with SHA-256 ${uploaded.sha256}, not ${file.sha256}`);
      options.sent.bytesSent += uploaded.bytes;
    } catch (error) {
      const why = watch.stalled ? new Error(`no progress for ${String(stallMs / 1000)} s`) : error;
      remote.note('upload', shown, why instanceof Error ? why.message : String(why), performance.now() - began, null);
      if (options.signal?.aborted === true) throw cancelled(remote.link.describe);
      throw error instanceof FieldkitError && !watch.stalled ? error : linkLost(remote.link, `the upload of ${file.path}`, why);
    } finally {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onCancel);
      if (compress) await rm(local, { force: true });
    }
    remote.note('upload', shown, compress ? 'compressed copy checked on the device by SHA-256' : `SHA-256 ${file.sha256} checked on the device`, performance.now() - began);
    // Into the store at once: a deploy that fails later keeps what already crossed.
    await storeObject(remote, options.prefix, file, compress);
    done += file.size;
    options.onProgress?.({ step: 'upload', bytesDone: done, bytesTotal: total });
  }
}

async function storeObject(remote: RemoteSteps, prefix: string, file: BundleFile, compressed: boolean): Promise<void> {
  const incoming = shellQuote(`${prefix}/incoming/${file.sha256}`);
  const steps = compressed
    ? [
        `gunzip -c ${incoming}.gz > ${incoming}`,
        `rm -f ${incoming}.gz`,
        // Unpacked on the device, so checked again there before anything may use it.
        `echo ${shellQuote(`${file.sha256}  ${prefix}/incoming/${file.sha256}`)} | sha256sum --quiet --strict -c`,
      ]
    : [];
  steps.push(`chown root:root ${incoming}`, `chmod ${(file.mode & 0o777).toString(8)} ${incoming}`, `mv -f ${incoming} ${shellQuote(`${prefix}/objects/${file.sha256}`)}`);
  await remote.must('upload', steps.join(' && '), `Moving ${file.path} into the object store`, { sudo: true });
}

async function gzipped(file: string): Promise<string> {
  const target = `${file}.${randomBytes(4).toString('hex')}.gz`;
  await pipeline(createReadStream(file), createGzip({ level: 9 }), createWriteStream(target, { mode: 0o600 }));
  return target;
}

/**
 * Builds `<prefix>/<folder>/<version>` from objects (hard link when the object has the
 * file's mode, else a copy), checks every file's SHA-256 there with sha256sum, then renames
 * it into place. A release of that version that is not in use is replaced.
 */
export async function assembleRelease(remote: RemoteSteps, options: { prefix: string; folder: 'releases' | 'models'; version: string; files: readonly BundleFile[]; inUse: readonly string[] }): Promise<void> {
  const root = `${options.prefix}/${options.folder}`;
  const temp = `${root}/.${options.version}.partial-${randomBytes(4).toString('hex')}`;
  const final = `${root}/${options.version}`;
  const dirs = new Set<string>();
  for (const file of options.files) {
    const parts = file.path.split('/');
    for (let i = 1; i < parts.length; i++) dirs.add(parts.slice(0, i).join('/'));
  }
  const lines = [
    'set -eu',
    `install -d -m 0755 ${shellQuote(root)}`,
    `rm -rf ${shellQuote(root)}/.*.partial-*`,
    `install -d -m 0755 ${shellQuote(temp)}`,
    `cd ${shellQuote(temp)}`,
    ...[...dirs].sort().map((d) => `install -d -m 0755 ${shellQuote(d)}`),
    ...options.files.map((f) => {
      const object = shellQuote(`${options.prefix}/objects/${f.sha256}`);
      const mode = (f.mode & 0o777).toString(8);
      return `if [ "$(stat -c %a ${object})" = ${mode} ]; then ln ${object} ${shellQuote(f.path)}; else cp ${object} ${shellQuote(f.path)} && chmod ${mode} ${shellQuote(f.path)}; fi`;
    }),
    // The same check as on the laptop, on the bytes that will run.
    `sha256sum --quiet --strict -c <<'FIELDKIT_SUMS'\n${options.files.map((f) => `${f.sha256}  ${f.path}`).join('\n')}\nFIELDKIT_SUMS`,
    'cd /',
    options.inUse.includes(options.version) ? `echo "${options.version} is in use; not replaced" >&2; exit 3` : `rm -rf ${shellQuote(final)}`,
    `mv -T ${shellQuote(temp)} ${shellQuote(final)}`,
    'sync',
  ];
  await remote.must('install', lines.join('\n'), `Assembling ${options.folder}/${options.version} and checking its SHA-256 sums`, {
    sudo: true,
    shownAs: `sudo -n sh -c 'assemble ${final} from ${String(options.files.length)} objects (hard links), sha256sum -c every file, mv -T into place'`,
  });
}

/** sha256sum -c over an installed release: true when every file is intact. */
export async function releaseIntact(remote: RemoteSteps, dir: string, files: readonly BundleFile[]): Promise<boolean> {
  const sums = files.map((f) => `${f.sha256}  ${f.path}`).join('\n');
  const result = await remote.run('check', `cd ${shellQuote(dir)} && sha256sum --quiet --strict -c`, { stdin: `${sums}\n`, shownAs: `cd ${dir} && sha256sum --quiet --strict -c (${String(files.length)} files)` });
  return result.code === 0;
}

/**
 * Keeps the newest `keep` folders of `<prefix>/<folder>` (by change time), never `protect`
 * (current and previous), then drops objects no release links to any more.
 */
export async function pruneReleases(remote: RemoteSteps, options: { prefix: string; folder: 'releases' | 'models'; keep: number; protect: readonly string[] }): Promise<void> {
  const root = shellQuote(`${options.prefix}/${options.folder}`);
  const keepCase = options.protect.length === 0 ? '' : `case "$v" in ${options.protect.map((v) => shellQuote(v)).join('|')}) continue;; esac; `;
  const script = [
    `cd ${root} || exit 0`,
    `n=0; for v in $(ls -1t); do [ -L "$v" ] && continue; n=$((n+1)); [ "$n" -le ${String(options.keep)} ] && continue; ${keepCase}rm -rf -- "$v"; echo "removed ${options.folder}/$v"; done`,
    // An object only the store links to belongs to no release: the next deploy that needs it sends it again.
    `find ${shellQuote(`${options.prefix}/objects`)} -type f -links 1 -print -delete | sed 's|.*/|dropped object |'`,
  ].join('\n');
  await remote.must('prune', script, `Removing old ${options.folder}`, { sudo: true });
}
