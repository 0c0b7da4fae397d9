/**
 * Verifies a signed bundle, packed (`.tar`) or unpacked (a folder): first the minisign
 * signature over the exact bytes of manifest.json, then that those bytes are canonical JSON
 * (shared/canonicalJson.ts) and a manifest of the right kind, then every file it lists
 * (SHA-256, size, mode), and that nothing else is there. An unlisted file is refused too: a
 * dropped-in `lib/evil.mjs` is as much a tampering as an edited one.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import type { z } from 'zod';
import { AgentBundleManifestSchema, type AgentBundleManifest, type BundleFile } from '../../../shared/agentBundle.ts';
import { appError, fieldPath, FieldkitError } from '../../../shared/errors.ts';
import { readSmallFile, readTextFile, verifyBytes, type VerifiedSignature } from './minisign.ts';
import { parseSignature, type MinisignPublicKey } from './minisignFormat.ts';
import { parseSignedJson } from './signedJson.ts';
import { listUstar, looksLikeUstarHeader, readUstarMember, type UstarMember } from './ustarArchive.ts';

export const manifestName = 'manifest.json';
export const manifestSignatureName = 'manifest.json.minisig';
/** A manifest is a few kB; refusing big ones keeps a hostile archive from exhausting memory. */
const manifestMaxBytes = 1 << 20;

export type VerifiedBundle = { manifest: AgentBundleManifest; signature: VerifiedSignature; files: BundleFile[] };
export type VerifiedBundleOf<M> = { manifest: M; signature: VerifiedSignature; files: BundleFile[] };

/**
 * What a signed manifest must be for one kind of bundle (the agent, a model): the same
 * signature-then-every-file check serves all of them.
 */
export type ManifestKind<M extends { files: BundleFile[] }> = {
  schema: z.ZodType<M>;
  /** "an agent bundle manifest", for refusals. */
  describe: string;
  /** What builds such bundles, for hints. */
  builder: string;
};

export const agentManifestKind: ManifestKind<AgentBundleManifest> = { schema: AgentBundleManifestSchema, describe: 'an agent bundle manifest', builder: 'build/bundle-agent.ts' };

/** True for a folder holding manifest.json, or a tar whose first member is manifest.json. */
export async function isSignedBundle(target: string): Promise<boolean> {
  const info = await stat(target).catch(() => null);
  if (info === null) return false;
  if (info.isDirectory()) return (await stat(path.join(target, manifestName)).catch(() => null))?.isFile() === true;
  if (!info.isFile() || info.size < 1024) return false;
  const handle = await open(target, 'r');
  try {
    const header = Buffer.alloc(512);
    await handle.read(header, 0, 512, 0);
    return looksLikeUstarHeader(header) && header.toString('utf8', 0, manifestName.length + 1) === manifestName + '\0';
  } finally {
    await handle.close();
  }
}

/** Verifies the bundle at `target` against `key`; throws VERIFICATION_FAILED naming what differs. */
export async function verifySignedBundle(target: string, key: MinisignPublicKey): Promise<VerifiedBundle> {
  return verifySignedBundleOf(target, key, agentManifestKind);
}

/** verifySignedBundle for any kind of signed bundle (see ManifestKind). */
export async function verifySignedBundleOf<M extends { files: BundleFile[] }>(target: string, key: MinisignPublicKey, kind: ManifestKind<M>): Promise<VerifiedBundleOf<M>> {
  const info = await stat(target);
  return info.isDirectory() ? verifyFolder(target, key, kind) : verifyArchive(target, key, kind);
}

function checkManifest<M extends { files: BundleFile[] }>(bytes: Buffer, sigText: string, key: MinisignPublicKey, where: string, kind: ManifestKind<M>): { manifest: M; signature: VerifiedSignature } {
  // The signature first: nothing in an unsigned manifest deserves to be parsed as instructions.
  const signature = verifyBytes(key, bytes, parseSignature(sigText), `${where} ${manifestName}`);
  // Canonical before any field is looked at: a duplicate key would let two readers disagree.
  const json = parseSignedJson(bytes, `The signed ${manifestName} in ${where}`, notBuiltByFieldkit(kind));
  const parsed = kind.schema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new FieldkitError(
      appError(
        'BAD_REQUEST',
        `The signed ${manifestName} in ${where} is not ${kind.describe}: ${issue ? `${fieldPath(issue.path)}: ${issue.message}` : 'invalid'}.`,
        `Use a bundle built by ${kind.builder}, or a newer fieldkit if the bundle is newer than this app.`,
      ),
    );
  }
  const seen = new Set<string>();
  for (const file of parsed.data.files) {
    if (seen.has(file.path) || file.path === manifestName || file.path === manifestSignatureName) {
      throw new FieldkitError(appError('BAD_REQUEST', `The signed ${manifestName} in ${where} lists ${file.path} twice or lists itself.`, 'Rebuild the bundle.'));
    }
    seen.add(file.path);
  }
  return { manifest: parsed.data, signature };
}

/** The hint for a signed manifest that is not in the builder's canonical form. */
export function notBuiltByFieldkit(kind: { builder: string }): string {
  return `Do not install or run this bundle. A signed manifest must be exactly as ${kind.builder} writes it; rebuild and sign the bundle with it.`;
}

type Mismatch = { path: string; problem: string };

function refuseMismatches(where: string, mismatches: Mismatch[]): never {
  const shown = mismatches.slice(0, 5).map((m) => `${m.path} (${m.problem})`);
  const more = mismatches.length > 5 ? `, and ${mismatches.length - 5} more` : '';
  throw new FieldkitError(
    appError(
      'VERIFICATION_FAILED',
      `${where} does not match its signed manifest: ${shown.join(', ')}${more}.`,
      'Do not install or run this bundle. Get it again from where it was published, or rebuild it, and verify it again.',
    ),
  );
}

async function sha256Of(file: string, start?: number, size?: number): Promise<string> {
  const hash = createHash('sha256');
  if (size === 0) return hash.digest('hex');
  const range = start === undefined || size === undefined ? {} : { start, end: start + size - 1 };
  for await (const chunk of createReadStream(file, range)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function verifyArchive<M extends { files: BundleFile[] }>(archive: string, key: MinisignPublicKey, kind: ManifestKind<M>): Promise<VerifiedBundleOf<M>> {
  const where = path.basename(archive);
  const members = await listUstar(archive, where);
  const [first, second] = members;
  if (first?.path !== manifestName || second?.path !== manifestSignatureName) {
    throw new FieldkitError(
      appError('VERIFICATION_FAILED', `${where} does not start with ${manifestName} and ${manifestSignatureName}.`, 'This is not a signed fieldkit bundle; use the .tar that build/bundle-agent.ts made.'),
    );
  }
  if (first.size > manifestMaxBytes || second.size > manifestMaxBytes) throw new FieldkitError(appError('VERIFICATION_FAILED', `${where} has an oversized manifest.`, 'Do not use this archive.'));
  const { manifest, signature } = checkManifest(await readUstarMember(archive, first), (await readUstarMember(archive, second)).toString('utf8'), key, where, kind);

  const byPath = new Map<string, UstarMember>();
  const mismatches: Mismatch[] = [];
  for (const member of members.slice(2)) {
    if (member.type === 'directory') continue;
    // Extracting would let a second copy overwrite the first; one path, one member.
    if (byPath.has(member.path)) mismatches.push({ path: member.path, problem: 'appears twice in the archive' });
    byPath.set(member.path, member);
  }
  const listed = new Set(manifest.files.map((f) => f.path));
  for (const member of byPath.values()) if (!listed.has(member.path)) mismatches.push({ path: member.path, problem: 'not in the manifest' });
  for (const file of manifest.files) {
    const member = byPath.get(file.path);
    if (member === undefined) mismatches.push({ path: file.path, problem: 'missing' });
    else if (member.size !== file.size) mismatches.push({ path: file.path, problem: `${member.size} bytes, the manifest says ${file.size}` });
    else if ((member.mode & 0o7777) !== file.mode) mismatches.push({ path: file.path, problem: `mode ${member.mode.toString(8)}, the manifest says ${file.mode.toString(8)}` });
    else if ((await sha256Of(archive, member.offset, member.size)) !== file.sha256) mismatches.push({ path: file.path, problem: 'SHA-256 differs: content changed' });
  }
  if (mismatches.length > 0) refuseMismatches(where, mismatches);
  return { manifest, signature, files: manifest.files };
}

async function listFolder(root: string, dir = ''): Promise<{ path: string; kind: 'file' | 'other' }[]> {
  const found: { path: string; kind: 'file' | 'other' }[] = [];
  for (const entry of await readdir(path.join(root, dir), { withFileTypes: true })) {
    const relative = dir === '' ? entry.name : `${dir}/${entry.name}`;
    if (entry.isDirectory()) found.push(...(await listFolder(root, relative)));
    else found.push({ path: relative, kind: entry.isFile() ? 'file' : 'other' });
  }
  return found;
}

async function verifyFolder<M extends { files: BundleFile[] }>(folder: string, key: MinisignPublicKey, kind: ManifestKind<M>): Promise<VerifiedBundleOf<M>> {
  const where = folder;
  const manifestFile = path.join(folder, manifestName);
  const bytes = await readSmallFile(manifestFile, 'bundle manifest');
  const { manifest, signature } = checkManifest(bytes, await readTextFile(path.join(folder, manifestSignatureName), 'manifest signature'), key, where, kind);

  const present = new Map((await listFolder(folder)).map((entry) => [entry.path, entry.kind]));
  present.delete(manifestName);
  present.delete(manifestSignatureName);
  const mismatches: Mismatch[] = [];
  const listed = new Set(manifest.files.map((f) => f.path));
  for (const [relative, entryKind] of present) {
    if (!listed.has(relative)) mismatches.push({ path: relative, problem: entryKind === 'file' ? 'not in the manifest' : 'a link or special file, not in the manifest' });
  }
  for (const file of manifest.files) {
    const entryKind = present.get(file.path);
    const full = path.join(folder, ...file.path.split('/'));
    if (entryKind === undefined) {
      mismatches.push({ path: file.path, problem: 'missing' });
      continue;
    }
    if (entryKind !== 'file') {
      mismatches.push({ path: file.path, problem: 'not a regular file' });
      continue;
    }
    const info = await stat(full);
    // Unpacking as a user applies the umask, so only the executable bit is held to the manifest.
    if (info.size !== file.size) mismatches.push({ path: file.path, problem: `${info.size} bytes, the manifest says ${file.size}` });
    else if ((info.mode & 0o100) !== (file.mode & 0o100)) mismatches.push({ path: file.path, problem: (file.mode & 0o100) !== 0 ? 'should be executable' : 'should not be executable' });
    else if ((await sha256Of(full)) !== file.sha256) mismatches.push({ path: file.path, problem: 'SHA-256 differs: content changed' });
  }
  if (mismatches.length > 0) refuseMismatches(where, mismatches);
  return { manifest, signature, files: manifest.files };
}
