/**
 * `fieldkit image sign`: replaces a packed image's manifest signature, so a release key can
 * sign what CI packed, or a signature made with the stock tool (`minisign -S -m
 * manifest.json`) can be put in. The manifest and payload bytes are copied unchanged; only
 * the signature member is rewritten — and only over a manifest in the packer's canonical
 * form (shared/canonicalJson.ts), which is all a verifier accepts.
 */
import { open, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { appError, FieldkitError } from '../../../shared/errors.ts';
import { imageManifestName, imageSignatureName } from '../../../shared/image.ts';
import { defaultTrustedComment, signBytes } from '../signing/minisign.ts';
import { formatSignature, parseSignature, type MinisignSecretKey } from '../signing/minisignFormat.ts';
import { parseSignedJson } from '../signing/signedJson.ts';
import { listUstar, readUstarMember, ustarHeader } from '../signing/ustarArchive.ts';
import { imageArchive } from './verifyImage.ts';

const block = 512;
const copyChunk = 1 << 20;

export type NewSignature = { kind: 'key'; key: MinisignSecretKey; now?: Date } | { kind: 'minisig'; text: string };

/** Rewrites `file` with a new manifest.json.minisig; returns the signature's key id bytes. */
export async function resignImage(file: string, signature: NewSignature): Promise<Buffer> {
  const list = await listUstar(file, path.basename(file), imageArchive);
  const [manifest, oldSig, payload] = list;
  if (manifest?.path !== imageManifestName || oldSig?.path !== imageSignatureName || payload === undefined) {
    throw new FieldkitError(appError('BAD_REQUEST', `${path.basename(file)} is not a fieldkit image (${list.map((m) => m.path).join(', ')}).`, 'Pack the raw image with `fieldkit image pack` first.'));
  }
  const manifestBytes = await readUstarMember(file, manifest);
  // A signature vouches for bytes: never lend one to a manifest the verifier would refuse.
  parseSignedJson(manifestBytes, `The ${imageManifestName} in ${path.basename(file)}`, 'Pack the image again with `fieldkit image pack` and sign that; a manifest edited by hand cannot be signed.');
  const sig =
    signature.kind === 'key'
      ? signBytes(signature.key, manifestBytes, { trustedComment: defaultTrustedComment(imageManifestName, 'ED', signature.now ?? new Date()) })
      : parseSignature(signature.text);
  const sigBytes = Buffer.from(formatSignature(sig));
  const temp = path.join(path.dirname(file), `.${path.basename(file)}.resign-${process.pid}`);
  const input = await open(file, 'r');
  try {
    const output = await open(temp, 'w', 0o644);
    try {
      // Header and content of the manifest as they are; a new signature member; then the rest verbatim.
      const buffer = Buffer.alloc(copyChunk);
      const copy = async (from: number, to: number): Promise<void> => {
        for (let at = from; at < to; ) {
          const { bytesRead } = await input.read(buffer, 0, Math.min(copyChunk, to - at), at);
          if (bytesRead === 0) throw new Error(`${file} shrank while it was being re-signed`);
          await output.write(buffer.subarray(0, bytesRead));
          at += bytesRead;
        }
      };
      await copy(0, oldSig.offset - block);
      await output.write(ustarHeader(imageSignatureName, 0o644, sigBytes.length, Math.floor(Date.now() / 1000)));
      await output.write(sigBytes);
      await output.write(Buffer.alloc((block - (sigBytes.length % block)) % block));
      const { size } = await input.stat();
      await copy(payload.offset - block, size);
      await output.sync();
    } finally {
      await output.close();
    }
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  } finally {
    await input.close();
  }
  await rename(temp, file);
  return sig.keyId;
}
