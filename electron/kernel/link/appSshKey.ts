/**
 * fieldkit's own SSH key: one ed25519 key per laptop installation, made on first use and
 * kept 0600 in the data folder. Devices get its public half in authorized_keys, so a
 * password is needed only at first contact.
 *
 * The private key file is the truth; the .pub file is derived from it (and rewritten when
 * it is missing or differs). A key that OpenSSH would reject — earlier versions made one in
 * 256 with a 31-byte public key — is moved aside and replaced, with a log line saying what
 * the technician must do about devices that were given it.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, linkSync, mkdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { decodeOpenSshPrivateKey, ed25519FromSeed, ed25519PublicLine, encodeOpenSshPrivateKey, type Ed25519KeyPair } from './opensshEd25519.ts';

export type AppSshKey = { privateKey: string; publicKey: string; path: string };

export type AppSshKeyOptions = {
  /** Where the replacement of a broken key is reported (default: stderr). */
  log?: (message: string) => void;
  /** The 32 random bytes a new key is made from (tests use it to force a public key starting with a zero byte). */
  randomSeed?: () => Buffer;
};

type LoadedKey = { text: string; pair: Ed25519KeyPair; comment: string };

function readIfPresent(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

/** The key at `path`, null when there is none, or why it is unusable. */
function readKey(path: string): LoadedKey | null | { problem: string; text: string } {
  const text = readIfPresent(path);
  if (text === null) return null;
  try {
    const { seed, publicKey, comment } = decodeOpenSshPrivateKey(text);
    return { text, pair: { seed, publicKey }, comment };
  } catch (error) {
    return { problem: (error as Error).message, text };
  }
}

/** Moves a broken key pair aside (kept, not deleted: it is the technician's file). */
function moveAside(path: string, text: string): string {
  const aside = `${path}.broken-${new Date().toISOString().replace(/[:.]/g, '-')}`;
  // Another fieldkit process may have replaced it a moment ago: move only what was judged.
  if (readIfPresent(path) !== text) return aside;
  try {
    renameSync(path, aside);
    renameSync(`${path}.pub`, `${aside}.pub`);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  return aside;
}

/** Writes a new key whole or not at all: a complete temporary file, then a link that never overwrites. */
function createKey(path: string, randomSeed: () => Buffer): void {
  const pair = ed25519FromSeed(randomSeed());
  const temporary = `${path}.new-${process.pid}-${randomBytes(4).toString('hex')}`;
  writeFileSync(temporary, encodeOpenSshPrivateKey(pair, `fieldkit@${hostname()}`), { mode: 0o600, flag: 'wx' });
  try {
    linkSync(temporary, path);
  } catch (error) {
    // Another fieldkit process made one first: use that one.
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  } finally {
    unlinkSync(temporary);
  }
}

export function loadOrCreateAppSshKey(dataDir: string, options: AppSshKeyOptions = {}): AppSshKey {
  const log = options.log ?? ((message: string) => { console.warn(message); });
  const dir = join(dataDir, 'ssh');
  const path = join(dir, 'id_ed25519');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  let key = readKey(path);
  if (key !== null && 'problem' in key) {
    const aside = moveAside(path, key.text);
    log(
      `fieldkit: its SSH key ${path} is malformed (${key.problem}), so no device could log in with it. ` +
        `It was moved to ${aside} and a new key was made. What to do: connect each SSH device once with its password ` +
        '(Devices → Connect, or `fieldkit devices connect ID --password-stdin`) to install the new key; ' +
        'the old line in its ~/.ssh/authorized_keys can then be removed.',
    );
    key = null;
  }
  if (key === null) {
    createKey(path, options.randomSeed ?? (() => randomBytes(32)));
    key = readKey(path);
    if (key === null || 'problem' in key) throw new Error(`fieldkit could not make its SSH key at ${path}: ${key === null ? 'the file is gone' : key.problem}`);
  }
  const publicKey = ed25519PublicLine(key.pair.publicKey, key.comment);
  if (readIfPresent(`${path}.pub`)?.trim() !== publicKey) writeFileSync(`${path}.pub`, `${publicKey}\n`, { mode: 0o644 });
  chmodSync(path, 0o600);
  return { privateKey: key.text, publicKey, path };
}
