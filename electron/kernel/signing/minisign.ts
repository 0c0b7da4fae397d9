/**
 * minisign keys and signatures with node:crypto (Ed25519, BLAKE2b-512): make a key pair,
 * sign, verify. The files are the stock tool's (see minisignFormat.ts), so a technician can
 * check anything fieldkit signed with `minisign -V`, and fieldkit accepts what `minisign -S`
 * signed.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, scrypt, sign, verify, type KeyObject } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { appError, FieldkitError } from '../../../shared/errors.ts';
import {
  checkCommentLine,
  formatKeyId,
  parsePublicKey,
  parseSecretKey,
  parseSecretKeyFile,
  parseSignature,
  formatSecretKey,
  keynumSkBytes,
  secretKeyFromKeynumSk,
  type SecretKeyFile,
  type MinisignPublicKey,
  type MinisignSecretKey,
  type MinisignSignature,
  type SignatureAlgorithm,
} from './minisignFormat.ts';

export const signatureSuffix = '.minisig';
/** The stock tool will not load more than this for a legacy (not prehashed) signature. */
const legacyMaxBytes = 1 << 30;

/** A fresh Ed25519 key pair with a random 8-byte key id. */
export function generateSecretKey(): MinisignSecretKey {
  const { privateKey } = generateKeyPairSync('ed25519');
  const jwk = privateKey.export({ format: 'jwk' });
  if (jwk.d === undefined || jwk.x === undefined) throw new Error('node:crypto exported an Ed25519 key without its parts');
  return { keyId: randomBytes(8), secretKey: Buffer.concat([Buffer.from(jwk.d, 'base64url'), Buffer.from(jwk.x, 'base64url')]) };
}

function privateKeyObject(key: MinisignSecretKey): KeyObject {
  const seed = key.secretKey.subarray(0, 32);
  const stored = key.secretKey.subarray(32);
  const privateKey = createPrivateKey({ key: { kty: 'OKP', crv: 'Ed25519', d: seed.toString('base64url'), x: stored.toString('base64url') }, format: 'jwk' });
  // The public half is stored beside the seed; if they disagree, every signature would fail
  // to verify later, far from the cause. Refuse now.
  const derived = createPublicKey(privateKey).export({ format: 'jwk' }).x;
  if (derived === undefined || !Buffer.from(derived, 'base64url').equals(stored)) {
    throw new FieldkitError(appError('BAD_REQUEST', 'This minisign secret key is damaged: its public half does not match its private half.', 'Restore the key file from its backup.'));
  }
  return privateKey;
}

function publicKeyObject(key: MinisignPublicKey): KeyObject {
  return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: key.publicKey.toString('base64url') }, format: 'jwk' });
}

/** What the file signature covers: the BLAKE2b-512 of the content ('ED') or the content itself ('Ed'). */
function signedMessage(algorithm: SignatureAlgorithm, content: Uint8Array): Buffer {
  return algorithm === 'ED' ? createHash('blake2b512').update(content).digest() : Buffer.from(content);
}

/** The trusted comment the stock tool writes by default. */
export function defaultTrustedComment(fileName: string, algorithm: SignatureAlgorithm = 'ED', now: Date = new Date()): string {
  const base = `timestamp:${Math.floor(now.getTime() / 1000)}\tfile:${path.basename(fileName)}`;
  return algorithm === 'ED' ? `${base}\thashed` : base;
}

export type SignOptions = {
  trustedComment: string;
  untrustedComment?: string;
  /** 'ED' (prehashed, the stock tool's default) unless a legacy signature is wanted. */
  algorithm?: SignatureAlgorithm;
};

/** Signs the message a signature covers (see signedMessage) and the trusted comment. */
function signMessage(key: MinisignSecretKey, message: Buffer, options: SignOptions & { algorithm: SignatureAlgorithm }): MinisignSignature {
  checkCommentLine(options.trustedComment, 'trusted comment');
  const untrustedComment = options.untrustedComment ?? 'signature from minisign secret key';
  checkCommentLine(untrustedComment, 'untrusted comment');
  const privateKey = privateKeyObject(key);
  const signature = sign(null, message, privateKey);
  const globalSignature = sign(null, Buffer.concat([signature, Buffer.from(options.trustedComment, 'utf8')]), privateKey);
  return { algorithm: options.algorithm, keyId: key.keyId, signature, untrustedComment, trustedComment: options.trustedComment, globalSignature };
}

/** Signs bytes held in memory. */
export function signBytes(key: MinisignSecretKey, content: Uint8Array, options: SignOptions): MinisignSignature {
  const algorithm = options.algorithm ?? 'ED';
  return signMessage(key, signedMessage(algorithm, content), { ...options, algorithm });
}

/** Signs a file, streaming it through BLAKE2b-512 (or reading it whole for a legacy signature). */
export async function signFile(key: MinisignSecretKey, file: string, options: SignOptions): Promise<MinisignSignature> {
  const algorithm = options.algorithm ?? 'ED';
  return signMessage(key, await fileMessage(algorithm, file), { ...options, algorithm });
}

export type VerifiedSignature = {
  keyId: string;
  algorithm: SignatureAlgorithm;
  trustedComment: string;
  /** From the trusted comment's `timestamp:` field, when it has one. */
  signedAt: Date | null;
};

/**
 * Checks a signature against the message it covers. The global signature (over the file
 * signature and the trusted comment) is checked first: if it fails, the .minisig itself was
 * altered; if it holds and the file signature fails, the file was.
 */
function verifyMessage(key: MinisignPublicKey, sig: MinisignSignature, message: Buffer, name: string): VerifiedSignature {
  if (!sig.keyId.equals(key.keyId)) {
    throw new FieldkitError(
      appError(
        'VERIFICATION_FAILED',
        `${name} was signed with key ${formatKeyId(sig.keyId)}, not with the trusted key ${formatKeyId(key.keyId)}.`,
        `Verify it with the public key of its signer only if you trust that key (id ${formatKeyId(sig.keyId)}); otherwise get a copy signed with key ${formatKeyId(key.keyId)}.`,
      ),
    );
  }
  const publicKey = publicKeyObject(key);
  const comment = Buffer.from(sig.trustedComment, 'utf8');
  if (!verify(null, Buffer.concat([sig.signature, comment]), publicKey, sig.globalSignature)) {
    throw new FieldkitError(
      appError(
        'VERIFICATION_FAILED',
        `The signature of ${name} was altered after signing: its trusted comment or signature bytes do not match its global signature.`,
        'Do not trust this file. Get it and its .minisig again from where it was published.',
      ),
    );
  }
  if (!verify(null, message, publicKey, sig.signature)) {
    throw new FieldkitError(
      appError(
        'VERIFICATION_FAILED',
        `${name} does not match its signature: the file was changed after it was signed, or the signature belongs to another file.`,
        'Do not use this file. Get it again, with its .minisig, from where it was published.',
      ),
    );
  }
  const stamp = /(?:^|\t)timestamp:(\d+)(?:\t|$)/.exec(sig.trustedComment)?.[1];
  return { keyId: formatKeyId(sig.keyId), algorithm: sig.algorithm, trustedComment: sig.trustedComment, signedAt: stamp === undefined ? null : new Date(Number(stamp) * 1000) };
}

/** Verifies bytes held in memory against a parsed signature; throws VERIFICATION_FAILED. */
export function verifyBytes(key: MinisignPublicKey, content: Uint8Array, sig: MinisignSignature, name: string): VerifiedSignature {
  return verifyMessage(key, sig, signedMessage(sig.algorithm, content), name);
}

/** Verifies a file against its .minisig (by default `<file>.minisig`). */
export async function verifyFile(key: MinisignPublicKey, file: string, sigFile: string = file + signatureSuffix): Promise<VerifiedSignature> {
  const sig = parseSignature(await readTextFile(sigFile, 'signature'));
  return verifyMessage(key, sig, await fileMessage(sig.algorithm, file), path.basename(file));
}

async function fileMessage(algorithm: SignatureAlgorithm, file: string): Promise<Buffer> {
  if (algorithm === 'Ed') {
    const { size } = await statFile(file);
    if (size > legacyMaxBytes) {
      throw new FieldkitError(appError('BAD_REQUEST', `${path.basename(file)} is over 1 GiB, too big for a legacy (not prehashed) signature.`, 'Sign it with a prehashed signature (the default).'));
    }
    return readFile(file);
  }
  await statFile(file);
  const hash = createHash('blake2b512');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest();
}

async function statFile(file: string): Promise<{ size: number }> {
  try {
    return await stat(file);
  } catch (error) {
    throw fileError(error, file, 'file');
  }
}

/** Reads a small file (key, signature, manifest), turning a missing file into advice. */
export async function readSmallFile(file: string, what: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (error) {
    throw fileError(error, file, what);
  }
}

/** readSmallFile, as UTF-8 text. */
export async function readTextFile(file: string, what: string): Promise<string> {
  return (await readSmallFile(file, what)).toString('utf8');
}

function fileError(error: unknown, file: string, what: string): FieldkitError {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return new FieldkitError(appError('NOT_FOUND', `There is no ${what} at ${file}.`, `Check the path of the ${what}.`), { cause: error });
  if (code === 'EACCES' || code === 'EPERM') {
    return new FieldkitError(appError('PERMISSION_DENIED', `The ${what} at ${file} cannot be read.`, `Give your user read access to ${file}.`), { cause: error });
  }
  if (code === 'EISDIR') return new FieldkitError(appError('BAD_REQUEST', `${file} is a folder, not a ${what}.`, `Give the path of the ${what} itself.`), { cause: error });
  return new FieldkitError(appError('IO_ERROR', `Reading the ${what} at ${file} failed: ${(error as Error).message}.`, 'Check the disk and try again.'), { cause: error });
}

/** Loads a public key file (or a bare base64 key). */
export async function readPublicKey(file: string): Promise<MinisignPublicKey> {
  return parsePublicKey(await readTextFile(file, 'public key'));
}

/** scrypt memory above this is refused: a key file must not be able to exhaust the machine. */
const scryptMaxBytes = 2 ** 31;

/**
 * libsodium's crypto_pwhash_scryptsalsa208sha256 turns (opslimit, memlimit) into scrypt's
 * (N, r, p) this way; minisign stores only the former, so the mapping must be the same.
 */
export function scryptParameters(opslimit: bigint, memlimit: bigint): { N: number; r: number; p: number } {
  const ops = opslimit < 32768n ? 32768n : opslimit;
  const r = 8n;
  let logN = 1n;
  let p = 1n;
  if (ops < memlimit / 32n) {
    const maxN = ops / (r * 4n);
    while (logN < 63n && 1n << logN <= maxN / 2n) logN++;
  } else {
    const maxN = memlimit / (r * 128n);
    while (logN < 63n && 1n << logN <= maxN / 2n) logN++;
    let maxrp = ops / 4n / (1n << logN);
    if (maxrp > 0x3fffffffn) maxrp = 0x3fffffffn;
    p = maxrp / r;
  }
  return { N: Number(1n << logN), r: Number(r), p: Number(p) };
}

function scryptStream(password: string, salt: Buffer, N: number, r: number, p: number): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    scrypt(Buffer.from(password, 'utf8'), salt, keynumSkBytes, { N, r, p, maxmem: 128 * N * r + 2 ** 24 }, (error, derived) => {
      if (error) reject(error);
      else resolve(derived);
    });
  });
}

/** libsodium's "sensitive" limits, which `minisign -G` uses: scrypt with 1 GiB. */
const sensitiveOpslimit = 33554432n;
const sensitiveMemlimit = 1073741824n;

/** A password-protected secret key file, as `minisign -G` writes one. */
export async function formatEncryptedSecretKey(key: MinisignSecretKey, password: string): Promise<string> {
  if (password === '') throw new FieldkitError(appError('BAD_REQUEST', 'An empty password protects nothing.', 'Choose a password, or make an unencrypted key.'));
  const salt = randomBytes(32);
  const { N, r, p } = scryptParameters(sensitiveOpslimit, sensitiveMemlimit);
  return formatSecretKey(key, { salt, opslimit: sensitiveOpslimit, memlimit: sensitiveMemlimit, stream: await scryptStream(password, salt, N, r, p) });
}

/** Decrypts a password-protected (`Sc`) secret key as `minisign -S` does. */
export async function unlockSecretKey(file: SecretKeyFile, password: string): Promise<MinisignSecretKey> {
  if (file.kdf === null) {
    const key = secretKeyFromKeynumSk(file.keynumSk, true);
    if (key === null) throw new FieldkitError(appError('BAD_REQUEST', 'This minisign secret key is damaged: its checksum does not match.', 'Restore the key file from its backup.'));
    return key;
  }
  const { N, r, p } = scryptParameters(file.kdf.opslimit, file.kdf.memlimit);
  const memory = 128 * N * r;
  if (memory > scryptMaxBytes || p < 1) {
    throw new FieldkitError(appError('BAD_REQUEST', `This secret key's password derivation asks for ${Math.round(memory / 2 ** 20)} MiB, more than fieldkit allows.`, 'Re-protect the key with the stock tool (minisign -C) on this machine, or use an unencrypted copy.'));
  }
  const stream = await scryptStream(password, file.kdf.salt, N, r, p);
  const plain = Buffer.alloc(file.keynumSk.length);
  for (let i = 0; i < plain.length; i++) plain[i] = (file.keynumSk[i] ?? 0) ^ (stream[i] ?? 0);
  const key = secretKeyFromKeynumSk(plain, false);
  if (key === null) throw new FieldkitError(appError('PERMISSION_DENIED', 'Wrong password for this minisign secret key.', 'Check the password (it is case-sensitive) and try again.'));
  return key;
}

/**
 * Loads a secret key file. An encrypted one needs `password` (the CLI and the bundle build
 * take it from FIELDKIT_KEY_PASSWORD); an unencrypted one ignores it.
 */
export async function readSecretKey(file: string, password?: string): Promise<MinisignSecretKey> {
  const text = await readTextFile(file, 'secret key');
  const key = parseSecretKeyFile(text).kdf !== null && password !== undefined ? await unlockSecretKey(parseSecretKeyFile(text), password) : parseSecretKey(text);
  privateKeyObject(key);
  return key;
}
