/**
 * Writing key pairs and signatures to disk: a secret key is created owner-only and never
 * overwrites anything (losing a release key to a typo is not recoverable); a signature is
 * written beside its file by rename, so a reader never sees half of one.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { appError, FieldkitError } from '../../../shared/errors.ts';
import { formatEncryptedSecretKey, generateSecretKey } from './minisign.ts';
import { formatKeyId, formatPublicKey, formatSecretKey, formatSignature, publicKeyOf, type MinisignSecretKey, type MinisignSignature } from './minisignFormat.ts';

export type WrittenKeyPair = { secretKeyFile: string; publicKeyFile: string; keyId: string; key: MinisignSecretKey };

/**
 * Makes a key pair and writes `<name>.key` (mode 0600; password-protected like `minisign -G`
 * when `password` is given, else like `minisign -G -W`) and `<name>.pub` into `dir`.
 */
export async function writeNewKeyPair(dir: string, name = 'fieldkit', password?: string): Promise<WrittenKeyPair> {
  const secretKeyFile = path.join(dir, `${name}.key`);
  const publicKeyFile = path.join(dir, `${name}.pub`);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const key = generateSecretKey();
  const secretText = password === undefined ? formatSecretKey(key) : await formatEncryptedSecretKey(key, password);
  // 'wx' makes "already there" and "create" one step, so two keygens cannot both win.
  await createExclusive(secretKeyFile, secretText, 0o600);
  try {
    await createExclusive(publicKeyFile, formatPublicKey(publicKeyOf(key)), 0o644);
  } catch (error) {
    await rm(secretKeyFile, { force: true });
    throw error;
  }
  return { secretKeyFile, publicKeyFile, keyId: formatKeyId(key.keyId), key };
}

async function createExclusive(file: string, text: string, mode: number): Promise<void> {
  let handle;
  try {
    handle = await open(file, 'wx', mode);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new FieldkitError(
        appError('CONFLICT', `${file} already exists; fieldkit does not overwrite keys.`, 'Choose another folder with --out, or move the existing key pair away first if you really mean to replace it.'),
        { cause: error },
      );
    }
    throw new FieldkitError(appError('IO_ERROR', `Cannot create ${file}: ${(error as Error).message}.`, 'Check that the folder exists and is writable.'), { cause: error });
  }
  try {
    await handle.writeFile(text, 'utf8');
    // The umask may have narrowed the mode; a secret key must not have been widened by it.
    await handle.chmod(mode);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Writes a .minisig file atomically (temp file, then rename over any older signature). */
export async function writeSignatureFile(file: string, sig: MinisignSignature): Promise<void> {
  const temp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await writeFile(temp, formatSignature(sig), { mode: 0o644 });
    await rename(temp, file);
  } catch (error) {
    await rm(temp, { force: true });
    throw new FieldkitError(appError('IO_ERROR', `Cannot write the signature ${file}: ${(error as Error).message}.`, 'Check that the folder is writable and has free space.'), { cause: error });
  }
}
