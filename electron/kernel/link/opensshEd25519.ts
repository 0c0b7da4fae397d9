/**
 * ed25519 keys in OpenSSH's own formats, made with node:crypto. ssh2's generator strips
 * leading zero bytes from the public key, so one key in 256 came out 31 bytes long, which
 * OpenSSH rejects; here the raw keys are always the 32 bytes RFC 8032 defines.
 *
 * Formats (OpenSSH PROTOCOL.key, RFC 8709):
 *   public blob  = string "ssh-ed25519" ‖ string pk(32)
 *   private file = "openssh-key-v1\0" ‖ string "none" ‖ string "none" ‖ string "" ‖
 *                  uint32 1 ‖ string public-blob ‖ string (check ‖ check ‖ string "ssh-ed25519" ‖
 *                  string pk ‖ string seed‖pk ‖ string comment ‖ padding 1,2,3… to 8 bytes)
 */
import { createPrivateKey, createPublicKey, randomBytes } from 'node:crypto';

const keyType = 'ssh-ed25519';
const magic = Buffer.from('openssh-key-v1\0', 'latin1');
/** PKCS#8 DER of an ed25519 private key, up to its 32-byte seed (RFC 8410). */
const pkcs8SeedPrefix = Buffer.from('302e020100300506032b657004220420', 'hex');
/** SPKI DER of an ed25519 public key, up to its 32 bytes (RFC 8410). */
const spkiPrefix = Buffer.from('302a300506032b6570032100', 'hex');

export type Ed25519KeyPair = { seed: Buffer; publicKey: Buffer };

/** The public key of a 32-byte seed, by node:crypto (the reference every check compares with). */
export function ed25519FromSeed(seed: Buffer): Ed25519KeyPair {
  if (seed.length !== 32) throw new Error(`an ed25519 seed is 32 bytes, not ${seed.length}`);
  const privateKey = createPrivateKey({ key: Buffer.concat([pkcs8SeedPrefix, seed]), format: 'der', type: 'pkcs8' });
  const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
  if (spki.length !== spkiPrefix.length + 32 || !spki.subarray(0, spkiPrefix.length).equals(spkiPrefix)) throw new Error('unexpected SPKI encoding of an ed25519 public key');
  return { seed: Buffer.from(seed), publicKey: Buffer.from(spki.subarray(spkiPrefix.length)) };
}

export function generateEd25519(): Ed25519KeyPair {
  return ed25519FromSeed(randomBytes(32));
}

function sshString(data: Buffer | string): Buffer {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  const length = Buffer.alloc(4);
  length.writeUInt32BE(bytes.length);
  return Buffer.concat([length, bytes]);
}

export function ed25519PublicBlob(publicKey: Buffer): Buffer {
  return Buffer.concat([sshString(keyType), sshString(publicKey)]);
}

/** `ssh-ed25519 AAAA… comment`, as in id_ed25519.pub and authorized_keys. */
export function ed25519PublicLine(publicKey: Buffer, comment: string): string {
  return `${keyType} ${ed25519PublicBlob(publicKey).toString('base64')}${comment === '' ? '' : ` ${comment}`}`;
}

/** An unencrypted OpenSSH private key file, as `ssh-keygen -t ed25519 -N ''` writes it. */
export function encodeOpenSshPrivateKey(pair: Ed25519KeyPair, comment: string): string {
  const check = randomBytes(4);
  const parts = [check, check, sshString(keyType), sshString(pair.publicKey), sshString(Buffer.concat([pair.seed, pair.publicKey])), sshString(comment)];
  const unpadded = Buffer.concat(parts);
  const padding = Buffer.from(Array.from({ length: (8 - (unpadded.length % 8)) % 8 }, (_, i) => i + 1));
  const count = Buffer.alloc(4);
  count.writeUInt32BE(1);
  const body = Buffer.concat([magic, sshString('none'), sshString('none'), sshString(''), count, sshString(ed25519PublicBlob(pair.publicKey)), sshString(Buffer.concat([unpadded, padding]))]);
  const lines = body.toString('base64').match(/.{1,70}/g) ?? [];
  return ['-----BEGIN OPENSSH PRIVATE KEY-----', ...lines, '-----END OPENSSH PRIVATE KEY-----', ''].join('\n');
}

type WireReader = { string(what: string): Buffer; uint32(what: string): number; rest(): Buffer };

/** Reads SSH wire strings from a buffer; a short buffer is an error naming what was cut. */
function wireReader(bytes: Buffer): WireReader {
  let offset = 0;
  const take = (length: number, what: string): Buffer => {
    if (offset + length > bytes.length) throw new Error(`${what} is cut short`);
    const part = bytes.subarray(offset, offset + length);
    offset += length;
    return part;
  };
  return {
    uint32: (what) => take(4, what).readUInt32BE(0),
    string: (what) => take(take(4, what).readUInt32BE(0), what),
    rest: () => bytes.subarray(offset),
  };
}

/**
 * Why an OpenSSH ed25519 public key blob is not one OpenSSH accepts, or null when it is.
 * The length is what ssh2's generator got wrong.
 */
export function ed25519PublicBlobProblem(blob: Buffer): string | null {
  try {
    const reader = wireReader(blob);
    const type = reader.string('the key type').toString('latin1');
    if (type !== keyType) return `the key type is ${type}, not ${keyType}`;
    const key = reader.string('the public key');
    if (key.length !== 32) return `its public key is ${key.length} bytes, not 32 (a leading zero byte was dropped)`;
    if (reader.rest().length !== 0) return 'it has bytes after the key';
    return null;
  } catch (error) {
    return (error as Error).message;
  }
}

/**
 * The key pair and comment inside an unencrypted OpenSSH ed25519 private key file, checked:
 * a 32-byte public key that really belongs to the 32-byte seed. Throws saying what is wrong.
 */
export function decodeOpenSshPrivateKey(text: string): Ed25519KeyPair & { comment: string } {
  const base64 = /-----BEGIN OPENSSH PRIVATE KEY-----([\s\S]*?)-----END OPENSSH PRIVATE KEY-----/.exec(text)?.[1];
  if (base64 === undefined) throw new Error('it is not an OpenSSH private key file');
  const body = Buffer.from(base64.replace(/\s+/g, ''), 'base64');
  if (!body.subarray(0, magic.length).equals(magic)) throw new Error('it is not an openssh-key-v1 file');
  const reader = wireReader(body.subarray(magic.length));
  const cipher = reader.string('the cipher name').toString('latin1');
  reader.string('the KDF name');
  reader.string('the KDF options');
  if (cipher !== 'none') throw new Error('it is encrypted with a passphrase');
  if (reader.uint32('the key count') !== 1) throw new Error('it holds more than one key');
  const outerProblem = ed25519PublicBlobProblem(reader.string('the public key blob'));
  if (outerProblem !== null) throw new Error(outerProblem);
  const inner = wireReader(reader.string('the private section'));
  const check1 = inner.uint32('the check number');
  if (inner.uint32('the check number') !== check1) throw new Error('its check numbers differ (a corrupt or encrypted key)');
  const type = inner.string('the key type').toString('latin1');
  if (type !== keyType) throw new Error(`the key type is ${type}, not ${keyType}`);
  const publicKey = inner.string('the public key');
  const secret = inner.string('the private key');
  const comment = inner.string('the comment').toString('utf8');
  if (publicKey.length !== 32) throw new Error(`its public key is ${publicKey.length} bytes, not 32 (a leading zero byte was dropped)`);
  if (secret.length !== 64) throw new Error(`its private key is ${secret.length} bytes, not 64`);
  const derived = ed25519FromSeed(secret.subarray(0, 32));
  if (!derived.publicKey.equals(publicKey) || !secret.subarray(32).equals(publicKey)) throw new Error('its public key does not belong to its private key');
  return { ...derived, comment };
}
