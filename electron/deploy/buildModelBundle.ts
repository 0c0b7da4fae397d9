/**
 * Builds a signed model bundle: manifest.json (every file's SHA-256, size and mode),
 * manifest.json.minisig, then the files in path order — the same archive shape as the
 * agent bundle, so one verifier checks both. Used by tests and by whoever packages models.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { rename, rm, stat } from 'node:fs/promises';
import type { BundleFile } from '../../shared/agentBundle.ts';
import { canonicalJsonText } from '../../shared/canonicalJson.ts';
import { ModelBundleManifestSchema, modelBundleProduct, type ModelBundleManifest } from '../../shared/modelBundle.ts';
import { signBytes } from '../kernel/signing/minisign.ts';
import { formatSignature, type MinisignSecretKey } from '../kernel/signing/minisignFormat.ts';
import { writeUstar, type TarEntry, type TarSource } from '../kernel/signing/ustarArchive.ts';
import { manifestName, manifestSignatureName } from '../kernel/signing/verifyBundle.ts';

export type ModelFileInput = { path: string; mode?: number; source: { kind: 'bytes'; bytes: Uint8Array } | { kind: 'file'; path: string } };

async function sha256Of(source: ModelFileInput['source']): Promise<string> {
  const hash = createHash('sha256');
  if (source.kind === 'bytes') return hash.update(source.bytes).digest('hex');
  for await (const chunk of createReadStream(source.path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export async function buildModelBundle(options: {
  archive: string;
  name: string;
  version: string;
  install: ModelBundleManifest['install'];
  files: readonly ModelFileInput[];
  key: MinisignSecretKey;
  /** Seconds since the epoch for created_at and the archive's mtimes. */
  createdAt?: number;
}): Promise<{ archive: string; manifest: ModelBundleManifest }> {
  const epoch = options.createdAt ?? Math.floor(Date.now() / 1000);
  const sorted = [...options.files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const files: BundleFile[] = [];
  const sources = new Map<string, TarSource>();
  for (const input of sorted) {
    const size = input.source.kind === 'bytes' ? input.source.bytes.length : (await stat(input.source.path)).size;
    files.push({ path: input.path, sha256: await sha256Of(input.source), size, mode: input.mode ?? 0o644 });
    sources.set(input.path, input.source.kind === 'bytes' ? input.source : { kind: 'file', path: input.source.path, size });
  }
  const manifest = ModelBundleManifestSchema.parse({
    manifest_version: 1,
    product: modelBundleProduct,
    name: options.name,
    version: options.version,
    created_at: new Date(epoch * 1000).toISOString(),
    install: options.install,
    files,
  } satisfies ModelBundleManifest);
  const manifestBytes = Buffer.from(canonicalJsonText(manifest), 'utf8');
  const signature = signBytes(options.key, manifestBytes, {
    trustedComment: `timestamp:${String(epoch)}\tfile:${manifestName}\tproduct:${modelBundleProduct}\tname:${options.name}\tversion:${options.version}\thashed`,
    untrustedComment: `signature of the ${options.name} ${options.version} model manifest`,
  });
  const entries: TarEntry[] = [
    { path: manifestName, mode: 0o644, source: { kind: 'bytes', bytes: manifestBytes } },
    { path: manifestSignatureName, mode: 0o644, source: { kind: 'bytes', bytes: Buffer.from(formatSignature(signature), 'utf8') } },
    ...files.map((file): TarEntry => ({ path: file.path, mode: file.mode, source: sources.get(file.path) ?? { kind: 'bytes', bytes: new Uint8Array() } })),
  ];
  const temp = `${options.archive}.partial`;
  try {
    await writeUstar(temp, entries, epoch);
    await rename(temp, options.archive);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
  return { archive: options.archive, manifest };
}
