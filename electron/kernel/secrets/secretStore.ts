/**
 * Where the laptop keeps secrets (the ClickHouse password): an interface, so the Electron
 * app can keep them with safeStorage (the OS keychain) while the CLI and the web host,
 * which have no keychain access, use a file only this user can read.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { appError, FieldkitError } from '../../../shared/errors.ts';

export type SecretStore = {
  /** Where secrets live, in words ("a 0600 file at …", "the OS keychain"). */
  readonly description: string;
  get(name: string): Promise<string | null>;
  set(name: string, value: string): Promise<void>;
  delete(name: string): Promise<void>;
};

export const secretsFileName = 'secrets.json';
const SecretsFileSchema = z.record(z.string(), z.string());

/**
 * Secrets as a JSON file, mode 0600, replaced atomically (write beside, fsync, rename,
 * fsync the folder), so a crash leaves the old file or the new one, never half of one.
 */
export function createFileSecretStore(dataDir: string): SecretStore {
  const path = join(dataDir, secretsFileName);
  const file = secretsFile(path);
  return {
    description: `a file only you can read (${path}, mode 0600)`,
    get: (name) => settle(() => file.read()[name] ?? null),
    set: (name, value) => settle(() => { file.write({ ...file.read(), [name]: value }); }),
    delete: (name) => settle(() => { file.remove(name); }),
  };
}

/** What Electron's safeStorage offers (the OS keychain's key); the app passes safeStorage itself. */
export type SecretCipher = {
  isEncryptionAvailable(): boolean;
  encryptString(plainText: string): Buffer;
  decryptString(encrypted: Buffer): string;
};

export const encryptedSecretsFileName = 'secrets.safe.json';

/**
 * Secrets encrypted with the OS keychain's key (Electron safeStorage: Keychain, DPAPI,
 * libsecret/kwallet), kept in the same kind of 0600 file. Null when the OS offers no
 * keychain: the caller then uses the plain file store.
 */
export function createEncryptedSecretStore(dataDir: string, cipher: SecretCipher): SecretStore | null {
  if (!cipher.isEncryptionAvailable()) return null;
  const path = join(dataDir, encryptedSecretsFileName);
  const file = secretsFile(path);
  return {
    description: `the system keychain (${path}, encrypted)`,
    get: (name) =>
      settle(() => {
        const sealed = file.read()[name];
        return sealed === undefined ? null : cipher.decryptString(Buffer.from(sealed, 'base64'));
      }),
    set: (name, value) => settle(() => { file.write({ ...file.read(), [name]: cipher.encryptString(value).toString('base64') }); }),
    delete: (name) => settle(() => { file.remove(name); }),
  };
}

function secretsFile(path: string) {
  function read(): Record<string, string> {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
      throw ioError(`Cannot read the secrets file ${path}`, error);
    }
    const parsed = SecretsFileSchema.safeParse(safeJson(text));
    if (!parsed.success) {
      throw new FieldkitError(appError('IO_ERROR', `The secrets file ${path} is damaged.`, 'Delete it and set the ClickHouse password again (fieldkit settings clickhouse --password-stdin).'));
    }
    return parsed.data;
  }

  function write(secrets: Record<string, string>): void {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    const temp = `${path}.${process.pid}.tmp`;
    try {
      const fd = openSync(temp, 'w', 0o600);
      try {
        writeSync(fd, JSON.stringify(secrets, null, 2) + '\n');
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(temp, path);
      const dir = openSync(dirname(path), 'r');
      try {
        fsyncSync(dir);
      } finally {
        closeSync(dir);
      }
    } catch (error) {
      rmSync(temp, { force: true });
      throw ioError(`Cannot write the secrets file ${path}`, error);
    }
  }

  return {
    read,
    write,
    remove(name: string): void {
      const all = read();
      if (!(name in all)) return;
      write(Object.fromEntries(Object.entries(all).filter(([key]) => key !== name)));
    },
  };
}

/** Runs synchronous work as a promise, so a throw becomes a rejection like any async store's. */
function settle<T>(work: () => T): Promise<T> {
  return new Promise((resolve) => {
    resolve(work());
  });
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return null;
  }
}

function ioError(message: string, cause: unknown): FieldkitError {
  const detail = cause instanceof Error ? cause.message : String(cause);
  return new FieldkitError(appError('IO_ERROR', `${message}: ${detail}`, 'Check that the data folder is yours and writable.'), { cause });
}
