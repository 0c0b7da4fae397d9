/**
 * Assembles a signed bundle archive from files already on disk or in memory: hashes each
 * file, writes manifest.json (sorted, stable JSON), signs its exact bytes with minisign,
 * and writes the ustar archive with manifest.json first, manifest.json.minisig second and
 * the files after in path order. The same inputs and key give the same archive bytes.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { rename, rm, stat } from 'node:fs/promises';
import { agentBundleProduct, AgentBundleManifestSchema, type AgentArch, type AgentBundleManifest, type BundleFile } from '../../shared/agentBundle.ts';
import { canonicalJsonText } from '../../shared/canonicalJson.ts';
import { signBytes, signFile } from '../../electron/kernel/signing/minisign.ts';
import { formatSignature, type MinisignSecretKey } from '../../electron/kernel/signing/minisignFormat.ts';
import { writeSignatureFile } from '../../electron/kernel/signing/keyFiles.ts';
import { writeUstar, type TarEntry, type TarSource } from '../../electron/kernel/signing/ustarArchive.ts';
import { manifestName, manifestSignatureName } from '../../electron/kernel/signing/verifyBundle.ts';

export type BundleInput = { path: string; mode: number; source: { kind: 'bytes'; bytes: Uint8Array } | { kind: 'file'; path: string } };

export type BundleDescription = {
  version: string;
  arch: AgentArch;
  nodeVersion: string;
  /** Seconds since the epoch: the archive's mtimes, created_at and the signature's timestamp. */
  sourceDateEpoch: number;
  sourceCommit: string | null;
  install: AgentBundleManifest['install'];
};

async function sha256(source: BundleInput['source']): Promise<string> {
  const hash = createHash('sha256');
  if (source.kind === 'bytes') return hash.update(source.bytes).digest('hex');
  for await (const chunk of createReadStream(source.path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** The manifest for `inputs`, validated against the shared schema before anything is signed. */
export async function describeFiles(inputs: readonly BundleInput[], description: BundleDescription): Promise<{ manifest: AgentBundleManifest; sources: Map<string, TarSource> }> {
  const sorted = [...inputs].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const files: BundleFile[] = [];
  const sources = new Map<string, TarSource>();
  for (const input of sorted) {
    const size = input.source.kind === 'bytes' ? input.source.bytes.length : (await stat(input.source.path)).size;
    files.push({ path: input.path, sha256: await sha256(input.source), size, mode: input.mode });
    sources.set(input.path, input.source.kind === 'bytes' ? input.source : { kind: 'file', path: input.source.path, size });
  }
  const manifest = AgentBundleManifestSchema.parse({
    manifest_version: 1,
    product: agentBundleProduct,
    version: description.version,
    arch: description.arch,
    node_version: description.nodeVersion,
    created_at: new Date(description.sourceDateEpoch * 1000).toISOString(),
    source_commit: description.sourceCommit,
    install: description.install,
    files,
  } satisfies AgentBundleManifest);
  return { manifest, sources };
}

export type AssembledBundle = { archive: string; manifest: AgentBundleManifest; manifestBytes: Buffer; signatureText: string; archiveSignature: string };

/**
 * Writes `archive` (via a temp file, so a failed build leaves no half archive under the
 * final name) and `<archive>.minisig`, a detached signature of the whole archive for people
 * who check downloads with `minisign -V` alone.
 */
export async function assembleBundle(archive: string, inputs: readonly BundleInput[], description: BundleDescription, key: MinisignSecretKey): Promise<AssembledBundle> {
  const { manifest, sources } = await describeFiles(inputs, description);
  const manifestBytes = Buffer.from(canonicalJsonText(manifest), 'utf8');
  const comment = `timestamp:${description.sourceDateEpoch}\tfile:${manifestName}\tproduct:${agentBundleProduct}\tversion:${description.version}\tarch:${description.arch}\thashed`;
  const signatureText = formatSignature(signBytes(key, manifestBytes, { trustedComment: comment, untrustedComment: `signature of the ${agentBundleProduct} ${description.version} linux-${description.arch} manifest` }));
  const entries: TarEntry[] = [
    { path: manifestName, mode: 0o644, source: { kind: 'bytes', bytes: manifestBytes } },
    { path: manifestSignatureName, mode: 0o644, source: { kind: 'bytes', bytes: Buffer.from(signatureText, 'utf8') } },
    ...manifest.files.map((file): TarEntry => {
      const source = sources.get(file.path);
      if (source === undefined) throw new Error(`no source for ${file.path}`);
      return { path: file.path, mode: file.mode, source };
    }),
  ];
  const temp = `${archive}.partial`;
  try {
    await writeUstar(temp, entries, description.sourceDateEpoch);
    await rename(temp, archive);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
  const archiveName = archive.split('/').at(-1) ?? archive;
  const archiveSig = await signFile(key, archive, { trustedComment: `timestamp:${description.sourceDateEpoch}\tfile:${archiveName}\thashed` });
  await writeSignatureFile(`${archive}.minisig`, archiveSig);
  return { archive, manifest, manifestBytes, signatureText, archiveSignature: formatSignature(archiveSig) };
}
