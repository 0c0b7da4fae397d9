/**
 * The three minisign file formats, byte for byte as the stock tool (minisign 0.11) reads and
 * writes them. Every file is text: an `untrusted comment:` line, then base64 lines.
 *
 *   public key   'Ed' | key id (8) | Ed25519 public key (32)
 *   secret key   'Ed' | kdf ('Sc' or 0x0000) | 'B2' | salt (32) | opslimit (8 LE) | memlimit (8 LE)
 *                | key id (8) | Ed25519 secret key (64 = seed | public key) | BLAKE2b-256 checksum (32)
 *   signature    'ED' (BLAKE2b-512 prehashed) or 'Ed' (legacy, the whole file) | key id (8) | signature (64)
 *                then `trusted comment: …` and the global signature over signature | trusted comment.
 *
 * The key id is 8 random bytes; minisign prints it as the little-endian 64-bit number in hex.
 * Parsing is strict and every refusal says what to do, because these files are handed around
 * by people and a mangled copy must not pass as a different key.
 */
import { appError, FieldkitError } from '../../../shared/errors.ts';
import { blake2b } from './blake2b.ts';

export const untrustedPrefix = 'untrusted comment: ';
export const trustedPrefix = 'trusted comment: ';

const keyIdBytes = 8;
const publicKeyBytes = 32;
const secretKeyBytes = 64;
const signatureBytes = 64;
const saltBytes = 32;
const checksumBytes = 32;
const publicKeyFileBytes = 2 + keyIdBytes + publicKeyBytes;
const secretKeyFileBytes = 2 + 2 + 2 + saltBytes + 8 + 8 + keyIdBytes + secretKeyBytes + checksumBytes;
const signatureFileBytes = 2 + keyIdBytes + signatureBytes;
/** The stock tool refuses trusted comments of 8192 bytes and more, prefix included. */
const trustedCommentMaxBytes = 8192 - trustedPrefix.length - 1;

export type MinisignPublicKey = { keyId: Buffer; publicKey: Buffer };
export type MinisignSecretKey = { keyId: Buffer; /** libsodium layout: seed (32) then public key (32). */ secretKey: Buffer };
export type SignatureAlgorithm = 'ED' | 'Ed';
export type MinisignSignature = {
  algorithm: SignatureAlgorithm;
  keyId: Buffer;
  signature: Buffer;
  untrustedComment: string;
  trustedComment: string;
  globalSignature: Buffer;
};

/** The key id as minisign prints it: the little-endian 64-bit number, upper-case hex. */
export function formatKeyId(keyId: Buffer): string {
  return Buffer.from(keyId).reverse().toString('hex').toUpperCase();
}

/** The public half of a libsodium Ed25519 secret key. */
export function publicKeyOf(key: MinisignSecretKey): MinisignPublicKey {
  return { keyId: key.keyId, publicKey: key.secretKey.subarray(32) };
}

function malformed(what: string, detail: string, hint: string): FieldkitError {
  return new FieldkitError(appError('BAD_REQUEST', `This is not a usable minisign ${what}: ${detail}.`, hint));
}

/** Splits a minisign file into lines the way the stock tool reads them (LF, optional CR). */
function lines(text: string): string[] {
  return text.split('\n').map((line) => (line.endsWith('\r') ? line.slice(0, -1) : line));
}

function decodeBase64(text: string, bytes: number, what: string, hint: string): Buffer {
  // Buffer.from(…, 'base64') skips junk silently; a key file must be exactly what it says.
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text) || text.length % 4 !== 0) throw malformed(what, 'its data line is not base64', hint);
  const decoded = Buffer.from(text, 'base64');
  if (decoded.length !== bytes) throw malformed(what, `its data is ${decoded.length} bytes, not ${bytes}`, hint);
  return decoded;
}

function requireUntrustedComment(line: string | undefined, what: string, hint: string): string {
  if (line?.startsWith(untrustedPrefix) !== true) throw malformed(what, `the first line does not start with "${untrustedPrefix.trim()}"`, hint);
  return line.slice(untrustedPrefix.length);
}

const publicKeyHint = 'Use the .pub file that fieldkit keygen or minisign -G wrote, or copy it again: it is two lines, a comment and a base64 key.';

/** Parses a public key file, or the bare base64 key that `minisign -P` takes. */
export function parsePublicKey(text: string): MinisignPublicKey {
  const all = lines(text.trim());
  const data = all.length === 1 ? all[0] : (requireUntrustedComment(all[0], 'public key', publicKeyHint), all[1]);
  const raw = decodeBase64(data?.trim() ?? '', publicKeyFileBytes, 'public key', publicKeyHint);
  if (raw.toString('latin1', 0, 2) !== 'Ed') throw malformed('public key', 'it is not an Ed25519 key', publicKeyHint);
  return { keyId: raw.subarray(2, 2 + keyIdBytes), publicKey: raw.subarray(2 + keyIdBytes) };
}

/** The base64 line of a public key: what `minisign -P` takes. */
export function publicKeyBase64(key: MinisignPublicKey): string {
  return Buffer.concat([Buffer.from('Ed', 'latin1'), key.keyId, key.publicKey]).toString('base64');
}

/** A public key file exactly as `minisign -G` writes it. */
export function formatPublicKey(key: MinisignPublicKey): string {
  return `${untrustedPrefix}minisign public key ${formatKeyId(key.keyId)}\n${publicKeyBase64(key)}\n`;
}

const secretKeyHint = 'Use the secret key file that fieldkit keygen or minisign -G -W wrote (not the .pub file).';

function secretKeyChecksum(keyId: Buffer, secretKey: Buffer): Buffer {
  return blake2b(Buffer.concat([Buffer.from('Ed', 'latin1'), keyId, secretKey]), checksumBytes);
}

/** A secret key file as stored: the key part is still encrypted when `kdf` is set. */
export type SecretKeyFile = {
  kdf: { salt: Buffer; opslimit: bigint; memlimit: bigint } | null;
  /** key id | secret key | checksum, XORed with the scrypt stream when `kdf` is set. */
  keynumSk: Buffer;
};

/** Reads the layout of a secret key file, encrypted (`Sc`) or not. */
export function parseSecretKeyFile(text: string): SecretKeyFile {
  const all = lines(text);
  requireUntrustedComment(all[0], 'secret key', secretKeyHint);
  const raw = decodeBase64(all[1]?.trim() ?? '', secretKeyFileBytes, 'secret key', secretKeyHint);
  const sigAlg = raw.toString('latin1', 0, 2);
  const kdfAlg = raw.subarray(2, 4);
  const chkAlg = raw.toString('latin1', 4, 6);
  if (sigAlg !== 'Ed' || chkAlg !== 'B2') throw malformed('secret key', 'it is not an Ed25519 key with a BLAKE2b checksum', secretKeyHint);
  const encrypted = kdfAlg.toString('latin1') === 'Sc';
  if (!encrypted && kdfAlg.readUInt16BE(0) !== 0) throw malformed('secret key', 'it uses an unknown key derivation', secretKeyHint);
  const kdfStart = 6;
  const keyStart = kdfStart + saltBytes + 8 + 8;
  return {
    kdf: encrypted
      ? { salt: raw.subarray(kdfStart, kdfStart + saltBytes), opslimit: raw.readBigUInt64LE(kdfStart + saltBytes), memlimit: raw.readBigUInt64LE(kdfStart + saltBytes + 8) }
      : null,
    keynumSk: Buffer.from(raw.subarray(keyStart)),
  };
}

/** The key from a decrypted (or never encrypted) key part, checked against its checksum. */
export function secretKeyFromKeynumSk(keynumSk: Buffer, zeroChecksumAllowed: boolean): MinisignSecretKey | null {
  const keyId = keynumSk.subarray(0, keyIdBytes);
  const secretKey = keynumSk.subarray(keyIdBytes, keyIdBytes + secretKeyBytes);
  const checksum = keynumSk.subarray(keyIdBytes + secretKeyBytes);
  // The stock tool leaves the checksum zero in unencrypted keys; ours carry it, so a flipped
  // bit in a key we wrote is caught here instead of producing signatures nobody can verify.
  if (zeroChecksumAllowed && checksum.every((b) => b === 0)) return { keyId, secretKey };
  return checksum.equals(secretKeyChecksum(keyId, secretKey)) ? { keyId, secretKey } : null;
}

/** Environment variable holding the password of an encrypted secret key, for signing without a prompt. */
export const keyPasswordVariable = 'FIELDKIT_KEY_PASSWORD';

/** Parses an unencrypted secret key file (`minisign -G -W`, or ours). */
export function parseSecretKey(text: string): MinisignSecretKey {
  const file = parseSecretKeyFile(text);
  if (file.kdf !== null) {
    throw new FieldkitError(
      appError(
        'BAD_REQUEST',
        'This minisign secret key is protected by a password, and no password was given.',
        `Put the password in the ${keyPasswordVariable} environment variable for this command, or make an unencrypted copy kept somewhere safe (copy the file, then run \`minisign -C -W -s <copy>\`).`,
      ),
    );
  }
  const key = secretKeyFromKeynumSk(file.keynumSk, true);
  if (key === null) throw malformed('secret key', 'its checksum does not match (the file is damaged)', 'Restore the key file from its backup.');
  return key;
}

/**
 * A secret key file the stock tool reads: unencrypted (like `minisign -G -W`) without
 * `encryption`, else protected like `minisign -G` (the key part XORed with the scrypt stream
 * derived from the password with these parameters).
 */
export function formatSecretKey(key: MinisignSecretKey, encryption?: { salt: Buffer; opslimit: bigint; memlimit: bigint; stream: Buffer }): string {
  const header = Buffer.alloc(6 + saltBytes + 8 + 8);
  header.write('Ed', 0, 'latin1');
  header.write('B2', 4, 'latin1');
  let keynumSk = Buffer.concat([key.keyId, key.secretKey, secretKeyChecksum(key.keyId, key.secretKey)]);
  if (encryption !== undefined) {
    header.write('Sc', 2, 'latin1');
    encryption.salt.copy(header, 6);
    header.writeBigUInt64LE(encryption.opslimit, 6 + saltBytes);
    header.writeBigUInt64LE(encryption.memlimit, 6 + saltBytes + 8);
    keynumSk = Buffer.from(keynumSk.map((b, i) => b ^ (encryption.stream[i] ?? 0)));
  }
  const state = encryption === undefined ? 'unencrypted: keep this file private' : 'password-protected';
  return `${untrustedPrefix}minisign secret key ${formatKeyId(key.keyId)} (${state})\n${Buffer.concat([header, keynumSk]).toString('base64')}\n`;
}

/** Bytes of the key part the scrypt stream covers. */
export const keynumSkBytes = keyIdBytes + secretKeyBytes + checksumBytes;

const signatureHint = 'Copy the .minisig file again next to the file it signs, unchanged: it is four lines.';

/** Parses a .minisig file. */
export function parseSignature(text: string): MinisignSignature {
  const all = lines(text);
  const untrustedComment = requireUntrustedComment(all[0], 'signature', signatureHint);
  const raw = decodeBase64(all[1]?.trim() ?? '', signatureFileBytes, 'signature', signatureHint);
  const algorithm = raw.toString('latin1', 0, 2);
  if (algorithm !== 'ED' && algorithm !== 'Ed') throw malformed('signature', `its algorithm "${algorithm}" is unknown`, signatureHint);
  const trusted = all[2];
  if (trusted?.startsWith(trustedPrefix) !== true) throw malformed('signature', `the third line does not start with "${trustedPrefix.trim()}"`, signatureHint);
  const globalSignature = decodeBase64(all[3]?.trim() ?? '', signatureBytes, 'signature', signatureHint);
  return {
    algorithm,
    keyId: raw.subarray(2, 2 + keyIdBytes),
    signature: raw.subarray(2 + keyIdBytes),
    untrustedComment,
    trustedComment: trusted.slice(trustedPrefix.length),
    globalSignature,
  };
}

/** A .minisig file exactly as `minisign -S` writes it. */
export function formatSignature(sig: MinisignSignature): string {
  checkCommentLine(sig.untrustedComment, 'untrusted comment');
  checkCommentLine(sig.trustedComment, 'trusted comment');
  const raw = Buffer.concat([Buffer.from(sig.algorithm, 'latin1'), sig.keyId, sig.signature]);
  return `${untrustedPrefix}${sig.untrustedComment}\n${raw.toString('base64')}\n${trustedPrefix}${sig.trustedComment}\n${sig.globalSignature.toString('base64')}\n`;
}

/** Comments are single lines; the trusted one is also signed, so it has the stock tool's limit. */
export function checkCommentLine(comment: string, what: 'untrusted comment' | 'trusted comment'): void {
  if (/[\r\n]/.test(comment)) {
    throw new FieldkitError(appError('BAD_REQUEST', `A minisign ${what} must be one line.`, 'Remove the line breaks from the comment.'));
  }
  if (what === 'trusted comment' && Buffer.byteLength(comment) > trustedCommentMaxBytes) {
    throw new FieldkitError(appError('BAD_REQUEST', `The trusted comment is longer than ${trustedCommentMaxBytes} bytes.`, 'Shorten the trusted comment.'));
  }
}
