/**
 * A deployable bundle (the agent or a model) opened on the laptop: its kind read from the
 * manifest, its signer looked up in the trust store, and — before anything may be sent —
 * its signature and every file's SHA-256 checked. Files are then read straight out of the
 * archive for upload (copied to a scratch folder once, shared by every device of a rollout).
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { AgentBundleManifest, BundleFile } from '../../shared/agentBundle.ts';
import { agentBundleProduct } from '../../shared/agentBundle.ts';
import type { BundleKind, BundleSummary } from '../../shared/deploy.ts';
import { appError, FieldkitError, isFieldkitError, type AppError } from '../../shared/errors.ts';
import { ModelBundleManifestSchema, modelBundleProduct, type ModelBundleManifest } from '../../shared/modelBundle.ts';
import type { TrustedKey } from '../../shared/trust.ts';
import { readSmallFile } from '../kernel/signing/minisign.ts';
import { bundleFileError, bundleLayout } from './bundlePath.ts';
import { formatKeyId, parsePublicKey, parseSignature } from '../kernel/signing/minisignFormat.ts';
import { listUstar, readUstarMember, type UstarMember } from '../kernel/signing/ustarArchive.ts';
import { parseSignedJson } from '../kernel/signing/signedJson.ts';
import { agentManifestKind, manifestName, manifestSignatureName, notBuiltByFieldkit, verifySignedBundleOf, type ManifestKind } from '../kernel/signing/verifyBundle.ts';

export const modelManifestKind: ManifestKind<ModelBundleManifest> = { schema: ModelBundleManifestSchema, describe: 'a model bundle manifest', builder: 'electron/deploy/buildModelBundle.ts' };

export type OpenedBundle = {
  path: string;
  /** Key id (hex) and the trust store's label for it. */
  signer: { keyId: string; label: string };
  files: BundleFile[];
  /** Sum of the file sizes: what a device that has nothing must receive. */
  totalBytes: number;
} & ({ kind: 'agent'; manifest: AgentBundleManifest } | { kind: 'model'; manifest: ModelBundleManifest });

/** What opening a bundle reads without trusting it: the manifest's product and the signing key's id. */
type Unverified = { kind: BundleKind; json: Record<string, unknown>; keyId: string | null; members: UstarMember[] | null };

function refused(message: string, hint: string, code: AppError['code'] = 'VERIFICATION_FAILED'): FieldkitError {
  return new FieldkitError(appError(code, message, hint));
}

async function readUnverified(bundlePath: string): Promise<Unverified> {
  const layout = await bundleLayout(bundlePath);
  let manifestBytes: Buffer;
  let signatureText: string;
  let members: UstarMember[] | null = null;
  if (layout === 'folder') {
    manifestBytes = await readSmallFile(path.join(bundlePath, manifestName), 'bundle manifest');
    signatureText = (await readSmallFile(path.join(bundlePath, manifestSignatureName), 'manifest signature')).toString('utf8');
  } else {
    try {
      members = await listUstar(bundlePath, path.basename(bundlePath));
    } catch (error) {
      throw isFieldkitError(error) ? error : bundleFileError(error, bundlePath);
    }
    const [first, second] = members;
    if (first?.path !== manifestName || second?.path !== manifestSignatureName) {
      throw refused(`${path.basename(bundlePath)} does not start with ${manifestName} and ${manifestSignatureName}.`, 'This is a tar archive but not a signed fieldkit bundle; use the .tar the build made.', 'BAD_REQUEST');
    }
    if (first.size > 1 << 20 || second.size > 1 << 20) throw refused(`${path.basename(bundlePath)} has an oversized manifest (over 1 MiB).`, 'Do not use this archive; get the bundle again from where it was published.');
    manifestBytes = await readUstarMember(bundlePath, first);
    signatureText = (await readUstarMember(bundlePath, second)).toString('utf8');
  }
  // Even unverified, only the canonical form is read: with a duplicate "product" the kind
  // picked here could differ from what a later parse of the same bytes says.
  const json = parseSignedJson(manifestBytes, `The ${manifestName} of ${path.basename(bundlePath)}`, notBuiltByFieldkit({ builder: 'build/bundle-agent.ts or the model bundle builder' }));
  if (typeof json !== 'object' || json === null) throw refused(`The ${manifestName} of ${path.basename(bundlePath)} is not an object.`, 'Rebuild the bundle.', 'BAD_REQUEST');
  const record = json as Record<string, unknown>;
  const kind: BundleKind | null = record.product === agentBundleProduct ? 'agent' : record.product === modelBundleProduct ? 'model' : null;
  if (kind === null) {
    throw refused(`${path.basename(bundlePath)} is neither an agent nor a model bundle (product ${JSON.stringify(record.product)}).`, 'Pick a fieldkit-agent or fieldkit-model bundle.', 'BAD_REQUEST');
  }
  let keyId: string | null;
  try {
    keyId = formatKeyId(parseSignature(signatureText).keyId);
  } catch {
    keyId = null;
  }
  return { kind, json: record, keyId, members };
}

/**
 * Opens and verifies a bundle against the trust store's keys (as listTrustedKeys gives
 * them). Throws VERIFICATION_FAILED naming the problem: an unknown or revoked signer, an
 * altered manifest, a file whose SHA-256 differs, a file the manifest does not list.
 */
export async function openBundle(bundlePath: string, trustedKeys: readonly TrustedKey[]): Promise<OpenedBundle> {
  const unverified = await readUnverified(bundlePath);
  const name = path.basename(bundlePath);
  const key = trustedKeys.find((k) => k.keyId === unverified.keyId);
  if (key === undefined) {
    throw refused(
      `${name} is signed by key ${unverified.keyId ?? '(unreadable)'}, which is not in this laptop's trust store.`,
      'Import the publisher’s public key in Settings → Trusted keys (compare its id with the publisher first), or use a bundle signed by a trusted key.',
    );
  }
  if (key.revokedMs !== null) {
    throw refused(`${name} is signed by key ${key.keyId} (${key.label}), which was revoked: ${key.revokedReason ?? 'no reason given'}.`, 'Do not deploy it. Get a bundle signed by a key that is still trusted.');
  }
  const publicKey = parsePublicKey(key.publicKey);
  const signer = { keyId: key.keyId, label: key.label };
  if (unverified.kind === 'agent') {
    const verified = await verifySignedBundleOf(bundlePath, publicKey, agentManifestKind);
    return { path: bundlePath, kind: 'agent', manifest: verified.manifest, signer, files: verified.files, totalBytes: sum(verified.files) };
  }
  const verified = await verifySignedBundleOf(bundlePath, publicKey, modelManifestKind);
  return { path: bundlePath, kind: 'model', manifest: verified.manifest, signer, files: verified.files, totalBytes: sum(verified.files) };
}

function sum(files: readonly BundleFile[]): number {
  return files.reduce((total, f) => total + f.size, 0);
}

/** A failure while reading as the technician should hear it: I/O errors by what they are, never as a crash. */
function asAppError(error: unknown, bundlePath: string): AppError {
  return (isFieldkitError(error) ? error : bundleFileError(error, bundlePath)).appError;
}

/**
 * What the Deploy screen and `fieldkit deploy` show about a bundle; problems instead of throws.
 * A path that could not be read as a bundle (missing, unreadable, a folder or file that is no
 * bundle, a damaged archive) is `unread`: its signature was never checked, so nothing is said
 * about it. Only a bundle signed by a trusted key whose signature or files do not match is
 * `invalid` (altered).
 */
export async function inspectBundle(bundlePath: string, trustedKeys: readonly TrustedKey[]): Promise<BundleSummary> {
  let unverified: Unverified;
  try {
    unverified = await readUnverified(bundlePath);
  } catch (error) {
    return { path: bundlePath, kind: 'agent', product: '', version: '', arch: null, signature: { status: 'unread', keyId: null, signer: null }, files: [], totalBytes: 0, problems: [asAppError(error, bundlePath)] };
  }
  const { json } = unverified;
  const key = trustedKeys.find((k) => k.keyId === unverified.keyId) ?? null;
  const filesRaw = Array.isArray(json.files) ? (json.files as unknown[]) : [];
  const files = filesRaw.flatMap((f) => {
    const file = f as Partial<BundleFile>;
    return typeof file.path === 'string' && typeof file.size === 'number' && typeof file.sha256 === 'string' ? [{ path: file.path, size: file.size, sha256: file.sha256 }] : [];
  });
  const summary: BundleSummary = {
    path: bundlePath,
    kind: unverified.kind,
    product: typeof json.product === 'string' ? json.product : '',
    version: typeof json.version === 'string' ? json.version : '',
    arch: unverified.kind === 'agent' && (json.arch === 'x64' || json.arch === 'arm64') ? json.arch : null,
    signature: {
      status: key === null ? 'untrusted' : key.revokedMs !== null ? 'revoked' : 'trusted',
      keyId: unverified.keyId,
      signer: key?.label ?? null,
    },
    files,
    totalBytes: files.reduce((total, f) => total + f.size, 0),
    problems: [],
  };
  try {
    await openBundle(bundlePath, trustedKeys);
  } catch (error) {
    const problem = asAppError(error, bundlePath);
    summary.problems.push(problem);
    // A trusted, unrevoked key and still VERIFICATION_FAILED: the signature or a file's
    // SHA-256/size/mode does not match, or a file was added or removed — altered. Any other
    // failure (an unreadable disk, a manifest its signer built wrongly) is not tampering.
    if (summary.signature.status === 'trusted' && problem.code === 'VERIFICATION_FAILED') summary.signature.status = 'invalid';
  }
  return summary;
}

/**
 * Local copies of bundle files for upload, each extracted once and checked against the
 * signed SHA-256 again as it is copied (the archive could change after it was verified).
 */
export type BundleFileCache = {
  localPath(file: BundleFile): Promise<string>;
  close(): Promise<void>;
};

export function createBundleFileCache(bundle: OpenedBundle): BundleFileCache {
  let scratch: Promise<string> | null = null;
  const extracted = new Map<string, Promise<string>>();
  let members: Promise<UstarMember[] | null> | null = null;

  async function membersOf(): Promise<UstarMember[] | null> {
    const info = await stat(bundle.path);
    return info.isDirectory() ? null : listUstar(bundle.path, path.basename(bundle.path));
  }

  async function extract(file: BundleFile): Promise<string> {
    members ??= membersOf();
    const list = await members;
    let source: NodeJS.ReadableStream;
    if (list === null) {
      source = createReadStream(path.join(bundle.path, ...file.path.split('/')));
    } else {
      const member = list.find((m) => m.path === file.path && m.type === 'file');
      if (member === undefined) throw refused(`${file.path} is no longer in ${path.basename(bundle.path)}.`, 'The bundle changed after it was checked: pick it again.');
      source = member.size === 0 ? createReadStream('/dev/null') : createReadStream(bundle.path, { start: member.offset, end: member.offset + member.size - 1 });
    }
    scratch ??= mkdtemp(path.join(tmpdir(), 'fieldkit-deploy-'));
    const target = path.join(await scratch, file.sha256);
    const hash = createHash('sha256');
    await pipeline(
      source,
      async function* (chunks: AsyncIterable<Buffer | string>) {
        for await (const chunk of chunks) {
          hash.update(chunk);
          yield chunk;
        }
      },
      createWriteStream(target, { mode: 0o600 }),
    );
    if (hash.digest('hex') !== file.sha256) {
      throw refused(`${file.path} in ${path.basename(bundle.path)} changed after the bundle was verified (its SHA-256 differs).`, 'Do not deploy it; get the bundle again and verify it.');
    }
    return target;
  }

  return {
    localPath(file) {
      let pending = extracted.get(file.sha256);
      if (pending === undefined) {
        pending = extract(file);
        extracted.set(file.sha256, pending);
        pending.catch(() => extracted.delete(file.sha256));
      }
      return pending;
    },
    async close() {
      if (scratch !== null) await rm(await scratch, { recursive: true, force: true });
    },
  };
}
