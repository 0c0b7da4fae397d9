/**
 * minisign in memory: BLAKE2b against known answers and node:crypto, the file formats byte
 * for byte (fixtures made by the stock minisign 0.11), and every way a verification refuses.
 */
import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { isFieldkitError, type AppError } from '../../shared/errors.ts';
import { blake2b } from '../../electron/kernel/signing/blake2b.ts';
import { generateSecretKey, scryptParameters, signBytes, verifyBytes } from '../../electron/kernel/signing/minisign.ts';
import {
  formatKeyId,
  formatPublicKey,
  formatSecretKey,
  formatSignature,
  parsePublicKey,
  parseSecretKey,
  parseSignature,
  publicKeyOf,
  type MinisignSignature,
} from '../../electron/kernel/signing/minisignFormat.ts';

/** Made with `minisign -G -W`, then `minisign -S -m f.txt` and `minisign -S -l` (legacy) on a file holding "hello\n". */
const stock = {
  publicKey: 'untrusted comment: minisign public key 6AD5AEAFF3D9D179\nRWR50dnzr67VarNSn1xmzXcMWkkhF4pD5hObv/uOkoljE5YLWEjIbHl5\n',
  file: Buffer.from('hello\n'),
  prehashed:
    'untrusted comment: signature from minisign secret key\n' +
    'RUR50dnzr67VaqalVPgo3hORUg/vRLSM+XubH/xLnjBeSM44OW+BILTbL9bGCvmbfs7CQkEKoF2cONzRZ8IVZpqqy+Vg6kVeIgM=\n' +
    'trusted comment: timestamp:1795305250\tfile:f.txt\thashed\n' +
    'MR73oY7YJBg6hwqMdrKkxdDhjWVNLHfH/Rf4fiANHH2YJSUJo2ZpdsybX6Xb9iypcMkL8IboU6N27j2Pt6TeAg==\n',
  legacy:
    'untrusted comment: signature from minisign secret key\n' +
    'RWR50dnzr67VapF7rs13tLuQFd9Aal/gXnaJhFsYdXR2rslZV7dNGp+mfpx2n6L3hLZKaTdYdszVlMuAa/hR/nvipsgCmfsPXQg=\n' +
    'trusted comment: timestamp:1795305250\tfile:f.txt\n' +
    'bfbSJH70at/W2qB3/IKyZSgWO7X4JRy4M7jv/o2th4z1n7fMucuGMf6lz5Zfs7zOm9PL2OjS4I9i1Afdh56pDw==\n',
};

function errorOf(run: () => unknown): AppError {
  try {
    run();
  } catch (error) {
    if (isFieldkitError(error)) return error.appError;
    throw error;
  }
  throw new Error('expected a FieldkitError, nothing was thrown');
}

describe('BLAKE2b', () => {
  it('gives the RFC 7693 answers for "abc" and the known BLAKE2b-256 of nothing', () => {
    expect(blake2b(Buffer.from('abc'), 64).toString('hex')).toBe(
      'ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d17d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923',
    );
    expect(blake2b(Buffer.alloc(0), 32).toString('hex')).toBe('0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8');
  });

  it('agrees with node:crypto blake2b512 across block boundaries', () => {
    for (const size of [0, 1, 127, 128, 129, 255, 256, 257, 1000]) {
      const data = randomBytes(size);
      expect(blake2b(data, 64).toString('hex'), `${size} bytes`).toBe(createHash('blake2b512').update(data).digest('hex'));
    }
  });

  it('refuses output lengths BLAKE2b does not have', () => {
    expect(() => blake2b(Buffer.alloc(1), 0)).toThrow(RangeError);
    expect(() => blake2b(Buffer.alloc(1), 65)).toThrow(RangeError);
  });
});

describe('minisign formats', () => {
  it('reads a stock public key and prints its key id the way minisign does', () => {
    const key = parsePublicKey(stock.publicKey);
    expect(formatKeyId(key.keyId)).toBe('6AD5AEAFF3D9D179');
    expect(formatPublicKey(key)).toBe(stock.publicKey);
    // The bare base64 form that `minisign -P` takes.
    expect(parsePublicKey('RWR50dnzr67VarNSn1xmzXcMWkkhF4pD5hObv/uOkoljE5YLWEjIbHl5').publicKey.equals(key.publicKey)).toBe(true);
  });

  it('round-trips stock signatures, prehashed and legacy, byte for byte', () => {
    for (const text of [stock.prehashed, stock.legacy]) expect(formatSignature(parseSignature(text))).toBe(text);
    expect(parseSignature(stock.prehashed).algorithm).toBe('ED');
    expect(parseSignature(stock.legacy).algorithm).toBe('Ed');
  });

  it('verifies the stock signatures of the stock file', () => {
    const key = parsePublicKey(stock.publicKey);
    const verified = verifyBytes(key, stock.file, parseSignature(stock.prehashed), 'f.txt');
    expect(verified).toMatchObject({ keyId: '6AD5AEAFF3D9D179', algorithm: 'ED', trustedComment: 'timestamp:1795305250\tfile:f.txt\thashed' });
    expect(verified.signedAt?.getTime()).toBe(1795305250 * 1000);
    expect(verifyBytes(key, stock.file, parseSignature(stock.legacy), 'f.txt').algorithm).toBe('Ed');
  });

  it('writes secret keys in the layout the stock tool reads unencrypted, with the checksum filled in', () => {
    const key = generateSecretKey();
    const text = formatSecretKey(key);
    const raw = Buffer.from(text.split('\n')[1] ?? '', 'base64');
    expect(raw.length).toBe(158);
    expect(raw.toString('latin1', 0, 2)).toBe('Ed');
    expect(raw.readUInt16BE(2)).toBe(0); // no key derivation: not encrypted
    expect(raw.toString('latin1', 4, 6)).toBe('B2');
    expect(raw.subarray(54, 62).equals(key.keyId)).toBe(true);
    expect(raw.subarray(126).equals(blake2b(Buffer.concat([Buffer.from('Ed'), key.keyId, key.secretKey]), 32))).toBe(true);
    const parsed = parseSecretKey(text);
    expect(parsed.keyId.equals(key.keyId) && parsed.secretKey.equals(key.secretKey)).toBe(true);
  });

  it('accepts the zero checksum the stock tool leaves in unencrypted keys, and refuses a wrong one', () => {
    const key = generateSecretKey();
    const raw = Buffer.from(formatSecretKey(key).split('\n')[1] ?? '', 'base64');
    raw.fill(0, 126);
    expect(parseSecretKey(`untrusted comment: x\n${raw.toString('base64')}\n`).keyId.equals(key.keyId)).toBe(true);
    raw[130] = 1;
    expect(errorOf(() => parseSecretKey(`untrusted comment: x\n${raw.toString('base64')}\n`)).message).toContain('checksum does not match');
  });

  it('asks for the password of a password-protected key, or for an unencrypted copy', () => {
    const raw = Buffer.from(formatSecretKey(generateSecretKey()).split('\n')[1] ?? '', 'base64');
    raw.write('Sc', 2, 'latin1');
    const error = errorOf(() => parseSecretKey(`untrusted comment: x\n${raw.toString('base64')}\n`));
    expect(error.code).toBe('BAD_REQUEST');
    expect(error.hint).toContain('FIELDKIT_KEY_PASSWORD');
    expect(error.hint).toContain('minisign -C -W');
  });

  it("maps scrypt limits to (N, r, p) as libsodium does, for the stock tool's sensitive and interactive limits", () => {
    expect(scryptParameters(33554432n, 1073741824n)).toEqual({ N: 2 ** 20, r: 8, p: 1 });
    expect(scryptParameters(524288n, 16777216n)).toEqual({ N: 2 ** 14, r: 8, p: 1 });
    // Few operations, much memory: N follows the operations.
    expect(scryptParameters(32768n, 1073741824n)).toEqual({ N: 2 ** 10, r: 8, p: 1 });
  });

  it('refuses mangled files, saying which kind of file it expected', () => {
    expect(errorOf(() => parsePublicKey('untrusted comment: k\nnot base64!\n')).message).toContain('minisign public key');
    expect(errorOf(() => parsePublicKey('RWR50dnzr67VarNSn1xmzXcM')).message).toContain('bytes, not 42');
    expect(errorOf(() => parseSecretKey(stock.publicKey)).hint).toContain('not the .pub file');
    expect(errorOf(() => parseSignature(stock.prehashed.replace('\ntrusted comment: ', '\ntrusted: '))).message).toContain('third line');
    expect(errorOf(() => parseSignature(stock.prehashed.split('\n').slice(0, 3).join('\n'))).code).toBe('BAD_REQUEST');
    const wrongAlg = Buffer.from(stock.prehashed.split('\n')[1] ?? '', 'base64');
    wrongAlg.write('XX', 0, 'latin1');
    expect(errorOf(() => parseSignature(stock.prehashed.replace(stock.prehashed.split('\n')[1] ?? '', wrongAlg.toString('base64')))).message).toContain('"XX" is unknown');
  });
});

describe('minisign signatures', () => {
  const key = generateSecretKey();
  const publicKey = publicKeyOf(key);
  const content = Buffer.from('manifest bytes\n');
  const signed = signBytes(key, content, { trustedComment: 'timestamp:1700000000\tfile:manifest.json\thashed' });

  it('signs prehashed by default and verifies its own signatures, both algorithms', () => {
    expect(signed.algorithm).toBe('ED');
    expect(verifyBytes(publicKey, content, parseSignature(formatSignature(signed)), 'manifest.json').keyId).toBe(formatKeyId(key.keyId));
    const legacy = signBytes(key, content, { trustedComment: 'legacy', algorithm: 'Ed' });
    expect(verifyBytes(publicKey, content, legacy, 'manifest.json').algorithm).toBe('Ed');
  });

  it('refuses a signature made by another key, naming both key ids', () => {
    const other = generateSecretKey();
    const error = errorOf(() => verifyBytes(publicKeyOf(other), content, signed, 'manifest.json'));
    expect(error.code).toBe('VERIFICATION_FAILED');
    expect(error.message).toContain(formatKeyId(key.keyId));
    expect(error.message).toContain(formatKeyId(other.keyId));
  });

  it('refuses the right key id with the wrong key (a forged key id)', () => {
    const impostor = { ...publicKeyOf(generateSecretKey()), keyId: key.keyId };
    expect(errorOf(() => verifyBytes(impostor, content, signed, 'manifest.json')).code).toBe('VERIFICATION_FAILED');
  });

  it('refuses a tampered file', () => {
    const tampered = Buffer.from(content);
    tampered[0] = (tampered[0] ?? 0) ^ 1;
    const error = errorOf(() => verifyBytes(publicKey, tampered, signed, 'manifest.json'));
    expect(error).toMatchObject({ code: 'VERIFICATION_FAILED' });
    expect(error.message).toContain('manifest.json does not match its signature');
    expect(error.hint).toContain('Do not use this file');
  });

  it('refuses a tampered trusted comment', () => {
    const forged: MinisignSignature = { ...signed, trustedComment: signed.trustedComment.replace('1700000000', '1900000000') };
    const error = errorOf(() => verifyBytes(publicKey, content, parseSignature(formatSignature(forged)), 'manifest.json'));
    expect(error.code).toBe('VERIFICATION_FAILED');
    expect(error.message).toContain('trusted comment');
  });

  it('refuses a flipped bit in the signature or the global signature', () => {
    for (const field of ['signature', 'globalSignature'] as const) {
      const bytes = Buffer.from(signed[field]);
      bytes[10] = (bytes[10] ?? 0) ^ 0x40;
      expect(errorOf(() => verifyBytes(publicKey, content, { ...signed, [field]: bytes }, 'manifest.json')).code, field).toBe('VERIFICATION_FAILED');
    }
  });

  it('refuses a legacy signature relabelled as prehashed (and the reverse)', () => {
    const legacy = signBytes(key, content, { trustedComment: 'x', algorithm: 'Ed' });
    expect(errorOf(() => verifyBytes(publicKey, content, { ...legacy, algorithm: 'ED' }, 'm')).code).toBe('VERIFICATION_FAILED');
    expect(errorOf(() => verifyBytes(publicKey, content, { ...signed, algorithm: 'Ed' }, 'm')).code).toBe('VERIFICATION_FAILED');
  });

  it('will not sign a comment with a line break (it would forge the file layout)', () => {
    expect(errorOf(() => signBytes(key, content, { trustedComment: 'a\ntrusted comment: b' })).message).toContain('one line');
  });
});
