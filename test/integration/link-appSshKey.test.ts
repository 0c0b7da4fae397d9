import { execFileSync, spawnSync } from 'node:child_process';
import { createHash, createPrivateKey, createPublicKey } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadOrCreateAppSshKey, type AppSshKey } from '../../electron/kernel/link/appSshKey.ts';
import { connectSsh, installAppKey } from '../../electron/kernel/link/sshLink.ts';
import { startSshd, testPassword, testUser, type Sshd } from '../support/sshd.ts';
import { makeTempDir } from '../support/tempDir.ts';

/** The raw 32-byte public key of an ed25519 seed, by node:crypto: the test's own oracle. */
function publicKeyOfSeed(seed: Buffer): Buffer {
  const privateKey = createPrivateKey({ key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]), format: 'der', type: 'pkcs8' });
  return Buffer.from(createPublicKey(privateKey).export({ format: 'jwk' }).x ?? '', 'base64url');
}

/** The key bytes in an OpenSSH public key line (`ssh-ed25519 AAAA… comment`). */
function keyBytesOfLine(line: string): Buffer {
  const blob = Buffer.from(line.split(' ')[1] ?? '', 'base64');
  const typeLength = blob.readUInt32BE(0);
  return blob.subarray(8 + typeLength, 8 + typeLength + blob.readUInt32BE(4 + typeLength));
}

/** The public half of a key line without its comment. */
const keyOnly = (line: string) => line.split(' ').slice(0, 2).join(' ');

/** What OpenSSH itself says about a key pair: the .pub's fingerprint line and the public key (without comment) it derives from the private file. */
function sshKeygenView(key: AppSshKey): { fingerprint: string; derived: string } {
  const fingerprint = execFileSync('ssh-keygen', ['-l', '-f', `${key.path}.pub`], { encoding: 'utf8' }).trim();
  const derived = keyOnly(execFileSync('ssh-keygen', ['-y', '-f', key.path], { encoding: 'utf8' }).trim());
  return { fingerprint, derived };
}

async function logsInWithKeyAlone(sshd: Sshd, key: AppSshKey): Promise<void> {
  const target = { host: '127.0.0.1', port: sshd.port, username: testUser };
  const first = await connectSsh({ target, appKey: key, hostKey: { pinned: sshd.fingerprint }, password: testPassword });
  await installAppKey(first, key.publicKey);
  await first.close();
  const second = await connectSsh({ target, appKey: key, hostKey: { pinned: sshd.fingerprint } });
  expect(second.authenticatedWith).toBe('key');
  await second.close();
}

/** fieldkit's own SSH key, checked by OpenSSH (ssh-keygen, sshd) rather than by the code that made it. */
describe("the app's SSH key", () => {
  const dir = makeTempDir();
  let sshd: Sshd;
  beforeAll(async () => {
    sshd = await startSshd();
  });
  afterAll(async () => {
    await sshd.stop();
    dir.remove();
  });

  it('is valid when its public key starts with a zero byte (the case ssh2 shortened to 31 bytes)', async () => {
    // Deterministic seeds, searched for one whose public key starts with 0x00 (about 1 in 256).
    let seed = Buffer.alloc(0);
    for (let i = 0; seed.length === 0; i++) {
      const candidate = createHash('sha256').update(`fieldkit zero-first-byte ${i}`).digest();
      if (publicKeyOfSeed(candidate)[0] === 0) seed = candidate;
    }
    const key = loadOrCreateAppSshKey(join(dir.path, 'zero'), { randomSeed: () => seed });
    const bytes = keyBytesOfLine(key.publicKey);
    expect(bytes.length).toBe(32);
    expect(bytes.equals(publicKeyOfSeed(seed))).toBe(true);
    const view = sshKeygenView(key);
    expect(view.fingerprint).toMatch(/^256 SHA256:[A-Za-z0-9+/]{43} fieldkit@.* \(ED25519\)$/);
    expect(view.derived).toBe(keyOnly(key.publicKey));
    await logsInWithKeyAlone(sshd, key);
  });

  it('is valid to ssh-keygen in 600 generations out of 600', () => {
    const root = join(dir.path, 'many');
    const keys = Array.from({ length: 600 }, (_, i) => loadOrCreateAppSshKey(join(root, String(i)), { log: () => undefined }));
    // One ssh-keygen run lists every key of an authorized_keys file; a malformed line is skipped.
    const all = join(root, 'authorized_keys');
    writeFileSync(all, keys.map((k) => k.publicKey).join('\n') + '\n');
    const listed = execFileSync('ssh-keygen', ['-l', '-f', all], { encoding: 'utf8' }).trim().split('\n');
    expect(listed.filter((line) => /^256 SHA256:\S+ .* \(ED25519\)$/.test(line))).toHaveLength(600);
    const zeroFirst = keys.filter((k) => keyBytesOfLine(k.publicKey)[0] === 0).length;
    for (const key of keys) {
      expect(keyBytesOfLine(key.publicKey).length, key.publicKey).toBe(32);
      expect(keyOnly(execFileSync('ssh-keygen', ['-y', '-f', key.path], { encoding: 'utf8' }).trim()), key.path).toBe(keyOnly(key.publicKey));
    }
    console.info(`${zeroFirst} of 600 keys had a public key starting with a zero byte`);
  });

  it('replaces a broken key made by the old generator, keeps it aside, and says what to do', async () => {
    // The old generator (ssh2) makes a 31-byte public key when the real one starts with 0x00.
    let broken: { private: string; public: string } | null = null;
    while (broken === null) {
      const pair = ssh2.utils.generateKeyPairSync('ed25519', { comment: 'fieldkit@old' });
      if (keyBytesOfLine(pair.public).length === 31) broken = pair;
    }
    const dataDir = join(dir.path, 'broken');
    mkdirSync(join(dataDir, 'ssh'), { recursive: true });
    const path = join(dataDir, 'ssh', 'id_ed25519');
    writeFileSync(path, broken.private, { mode: 0o600 });
    writeFileSync(`${path}.pub`, broken.public + '\n');
    // The fixture really is what OpenSSH refuses.
    expect(spawnSync('ssh-keygen', ['-l', '-f', `${path}.pub`]).status).not.toBe(0);

    const logged: string[] = [];
    const key = loadOrCreateAppSshKey(dataDir, { log: (line) => logged.push(line) });
    expect(keyOnly(key.publicKey)).not.toBe(keyOnly(broken.public));
    expect(keyBytesOfLine(key.publicKey).length).toBe(32);
    expect(sshKeygenView(key).derived).toBe(keyOnly(key.publicKey));
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatch(/malformed \(its public key is 31 bytes, not 32/);
    expect(logged[0]).toMatch(/connect each SSH device once with its password/);
    const aside = readdirSync(join(dataDir, 'ssh')).filter((name) => name.startsWith('id_ed25519.broken-'));
    expect(aside).toHaveLength(2); // the private key and its .pub, kept
    expect(readFileSync(join(dataDir, 'ssh', aside.find((n) => !n.endsWith('.pub')) ?? ''), 'utf8')).toBe(broken.private);
    await logsInWithKeyAlone(sshd, key);

    // Loaded again: the same key, nothing more logged.
    expect(loadOrCreateAppSshKey(dataDir, { log: (line) => logged.push(line) }).publicKey).toBe(key.publicKey);
    expect(logged).toHaveLength(1);
  });

  it('rewrites a missing .pub from the private key, which is the truth', () => {
    const dataDir = join(dir.path, 'pub');
    const key = loadOrCreateAppSshKey(dataDir);
    rmSync(`${key.path}.pub`);
    const again = loadOrCreateAppSshKey(dataDir);
    expect(again.publicKey).toBe(key.publicKey);
    expect(existsSync(`${key.path}.pub`)).toBe(true);
    expect(sshKeygenView(again).derived).toBe(keyOnly(key.publicKey));
  });
});
