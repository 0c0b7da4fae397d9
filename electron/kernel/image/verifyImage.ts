/**
 * Verifies a fieldkit image before anything is written from it, in the order that keeps an
 * attacker's bytes from being interpreted: tar structure (complete to its end-of-archive
 * marker), then the manifest's signature by a trusted key, then that the signed bytes are
 * canonical JSON (shared/canonicalJson.ts: no duplicate key, the packer's exact form), then
 * its schema, expiry, board and sizes, and only then the payload, streamed once for its
 * SHA-256, decompressed for the raw SHA-256, size and block map.
 * Every refusal is a FieldkitError saying what is wrong and what to do.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { appError, FieldkitError } from '../../../shared/errors.ts';
import { imageManifestName, ImageManifestSchema, imagePayloadNames, imageSignatureName, type Board, type ImageManifest } from '../../../shared/image.ts';
import { verifyBytes, type VerifiedSignature } from '../signing/minisign.ts';
import { parseSignedJson } from '../signing/signedJson.ts';
import { formatKeyId, parseSignature, type MinisignPublicKey } from '../signing/minisignFormat.ts';
import { listUstar, readUstarMember, type ArchiveKind, type UstarMember } from '../signing/ustarArchive.ts';
import { payloadDecoder } from './zeroFrames.ts';
import { RangeChecker } from './rangeChecker.ts';

const manifestMaxBytes = 1 << 20;
const signatureMaxBytes = 16 << 10;
const doNotUse = 'Do not flash this image. Get it again from its publisher; if it keeps failing, tell them.';
const notPackedByFieldkit = 'Do not flash this image. A signed manifest must be exactly as `fieldkit image pack` writes it; ask the publisher to pack and sign the image again with fieldkit.';

export type ImageCheckOptions = {
  trustedKeys: readonly MinisignPublicKey[];
  /** Refuse unless the manifest lists this board. */
  board?: Board;
  now?: Date;
  /** false: stop after the manifest checks (inspect, or a flash that hashes while it writes). */
  checkPayload?: boolean;
};

export type VerifiedImage = { manifest: ImageManifest; signature: VerifiedSignature; payload: UstarMember; payloadChecked: boolean };

function refuse(message: string, hint: string = doNotUse, code: 'VERIFICATION_FAILED' | 'BAD_REQUEST' = 'VERIFICATION_FAILED'): FieldkitError {
  return new FieldkitError(appError(code, message, hint));
}

/** How the tar reader speaks of an image: cut short, it is "the image file"; its hint, what to do. */
export const imageArchive: ArchiveKind = {
  noun: 'image file',
  hint: 'Do not flash it. Copy or download it again (it may be truncated or damaged); a raw .img must be packed with `fieldkit image pack` first.',
};

/** The three members in order, or a refusal naming what is out of place. */
async function members(file: string): Promise<{ manifest: UstarMember; signature: UstarMember; payload: UstarMember }> {
  const list = await listUstar(file, path.basename(file), imageArchive);
  const payloadNames: readonly string[] = Object.values(imagePayloadNames);
  const [manifest, signature, payload, ...rest] = list;
  if (manifest?.path !== imageManifestName || signature?.path !== imageSignatureName || payload === undefined || !payloadNames.includes(payload.path) || rest.length > 0) {
    throw refuse(`${path.basename(file)} is not a fieldkit image: it holds ${list.map((m) => m.path).join(', ') || 'nothing'}, not ${imageManifestName}, ${imageSignatureName} and one disk image.`, 'Pack the raw image with `fieldkit image pack`; plain .img files are flashed only when the unsigned-image policy allows it.');
  }
  if (manifest.size > manifestMaxBytes) throw refuse(`${path.basename(file)}'s ${imageManifestName} is ${manifest.size} bytes, more than a manifest ever needs.`);
  if (signature.size > signatureMaxBytes) throw refuse(`${path.basename(file)}'s ${imageSignatureName} is ${signature.size} bytes, more than a minisign signature ever is.`);
  return { manifest, signature, payload };
}

/** Reads and checks the manifest: signature, schema, expiry, board, sizes. Nothing of the payload is read. */
export async function checkImageManifest(file: string, options: ImageCheckOptions): Promise<VerifiedImage> {
  const name = path.basename(file);
  const parts = await members(file);
  const manifestBytes = await readUstarMember(file, parts.manifest);
  const sig = parseSignature((await readUstarMember(file, parts.signature)).toString('utf8'));
  const key = options.trustedKeys.find((k) => k.keyId.equals(sig.keyId));
  if (key === undefined) {
    throw refuse(
      `${name} is signed by key ${formatKeyId(sig.keyId)}, which is not trusted${options.trustedKeys.length === 0 ? ' (no key given)' : ` (trusted: ${options.trustedKeys.map((k) => formatKeyId(k.keyId)).join(', ')})`}.`,
      "Flash only images from a publisher you trust. If this publisher is one, add their public key (.pub) and try again; check the key's fingerprint with them first.",
    );
  }
  // The signature first: an unsigned manifest's contents are not instructions.
  const signature = verifyBytes(key, manifestBytes, sig, `${name} ${imageManifestName}`);
  // Canonical before any field is looked at: a duplicate key would let two readers disagree.
  const json = parseSignedJson(manifestBytes, `The signed ${imageManifestName} in ${name}`, notPackedByFieldkit);
  const parsed = ImageManifestSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw refuse(`The signed ${imageManifestName} in ${name} does not match the image format: ${issue?.path.join('.') ?? ''} ${issue?.message ?? ''}.`, 'This image was made for another version of fieldkit, or packed wrongly. Update fieldkit or pack the image again.', 'BAD_REQUEST');
  }
  const manifest = parsed.data;
  const now = options.now ?? new Date();
  if (Date.parse(manifest.expires_at) <= now.getTime()) {
    throw refuse(`${name} (${manifest.product} ${manifest.version}) expired at ${manifest.expires_at}; the laptop clock says ${now.toISOString()}.`, 'Get the current image from the publisher. If the laptop clock is wrong, correct it first.');
  }
  if (options.board !== undefined && !manifest.boards.includes(options.board)) {
    throw refuse(`${name} (${manifest.product} ${manifest.version}) is not made for ${options.board}; it lists ${manifest.boards.join(', ')}.`, `Pick an image built for ${options.board}, or the right board.`, 'BAD_REQUEST');
  }
  const { payload } = manifest;
  if (parts.payload.path !== imagePayloadNames[payload.compression]) {
    throw refuse(`${name}'s disk image member is ${parts.payload.path}, but the manifest says its compression is ${payload.compression}.`);
  }
  if (parts.payload.size !== payload.compressed_size) {
    throw refuse(`${name}'s disk image is ${parts.payload.size} bytes, but the signed manifest says ${payload.compressed_size}: it was altered or cut short.`);
  }
  const lastRange = manifest.block_map.ranges.at(-1);
  if (lastRange !== undefined && lastRange.offset + lastRange.length > payload.raw_size) throw refuse(`${name}'s block map runs past the end of the ${payload.raw_size}-byte image.`);
  const outside = manifest.layout.partitions.find((p) => p.start + p.size > payload.raw_size);
  if (outside !== undefined) throw refuse(`${name}'s partition ${outside.index} (${outside.role}) ends past the end of the ${payload.raw_size}-byte image.`);
  return { manifest, signature, payload: parts.payload, payloadChecked: false };
}

/** Streams the payload: compressed SHA-256, then raw size, raw SHA-256 and block map. */
export async function checkImagePayload(file: string, verified: VerifiedImage): Promise<void> {
  const name = path.basename(file);
  const { payload } = verified.manifest;
  const member = verified.payload;
  if ((await stat(file)).size < member.offset + member.size) throw refuse(`${name} is shorter than its disk image member: truncated.`);
  const stored = createHash('sha256');
  const raw = createHash('sha256');
  const ranges = new RangeChecker(verified.manifest.block_map.ranges);
  let rawSize = 0;
  const tapStored = new Transform({
    transform(chunk: Buffer, _e, done) {
      stored.update(chunk);
      done(null, chunk);
    },
  });
  const sink = new Writable({
    write(chunk: Buffer, _e, done) {
      rawSize += chunk.length;
      if (rawSize > payload.raw_size) {
        done(refuse(`${name}'s disk image decompresses to more than the ${payload.raw_size} bytes its manifest says.`));
        return;
      }
      raw.update(chunk);
      ranges.update(chunk);
      done();
    },
  });
  const input = createReadStream(file, { start: member.offset, end: member.offset + member.size - 1, highWaterMark: 1 << 20 });
  const decompressor = payloadDecoder(payload, { skipZeroFrames: false });
  try {
    if (decompressor === null) await pipeline(input, tapStored, sink);
    else await pipeline(input, tapStored, decompressor, sink);
  } catch (error) {
    if (error instanceof FieldkitError) throw error;
    // A stored hash that already differs explains a decompression failure better than the decoder can.
    const damaged = stored.copy().digest('hex') !== payload.sha256;
    throw refuse(`${name}'s disk image does not decompress (${payload.compression}): ${(error as Error).message}${damaged ? '; its bytes differ from the signed SHA-256' : ''}.`);
  }
  const storedHex = stored.digest('hex');
  if (storedHex !== payload.sha256) throw refuse(`${name}'s disk image was altered: its SHA-256 is ${storedHex}, the signed manifest says ${payload.sha256}.`);
  if (rawSize !== payload.raw_size) throw refuse(`${name}'s disk image decompresses to ${rawSize} bytes, the signed manifest says ${payload.raw_size}.`);
  const rawHex = raw.digest('hex');
  if (rawHex !== payload.raw_sha256) throw refuse(`${name}'s decompressed disk image has SHA-256 ${rawHex}, the signed manifest says ${payload.raw_sha256}.`);
  const mismatch = ranges.mismatch;
  if (mismatch?.kind === 'range') throw refuse(`${name}'s mapped range at byte ${mismatch.range.offset} (${mismatch.range.length} bytes) does not match its signed SHA-256.`);
  if (mismatch?.kind === 'unmapped') throw refuse(`${name}'s block map calls byte ${mismatch.offset} empty, but it holds data: a sparse write would leave it out.`);
  if (!ranges.complete()) throw refuse(`${name}'s disk image ended before the last range of its block map.`);
  verified.payloadChecked = true;
}

/** The whole check: manifest, then (unless `checkPayload` is false) the payload stream. */
export async function verifyImage(file: string, options: ImageCheckOptions): Promise<VerifiedImage> {
  const verified = await checkImageManifest(file, options);
  if (options.checkPayload !== false) await checkImagePayload(file, verified);
  return verified;
}

/**
 * The manifest and its signer's key id without checking the signature, for `inspect`: to show
 * what an image claims to be and who claims to have signed it. Never a basis for writing.
 */
export async function readUnverifiedManifest(file: string): Promise<{ manifest: ImageManifest; keyId: string; payload: UstarMember }> {
  const parts = await members(file);
  const sig = parseSignature((await readUstarMember(file, parts.signature)).toString('utf8'));
  const json = parseSignedJson(await readUstarMember(file, parts.manifest), `The ${imageManifestName} in ${path.basename(file)}`, notPackedByFieldkit);
  const parsed = ImageManifestSchema.safeParse(json);
  if (!parsed.success) throw refuse(`${path.basename(file)}'s ${imageManifestName} does not match the image format.`, 'Update fieldkit or pack the image again.', 'BAD_REQUEST');
  return { manifest: parsed.data, keyId: formatKeyId(sig.keyId), payload: parts.payload };
}
