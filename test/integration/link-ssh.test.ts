import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadOrCreateAppSshKey, type AppSshKey } from '../../electron/kernel/link/appSshKey.ts';
import { connectSsh, installAppKey } from '../../electron/kernel/link/sshLink.ts';
import { startSshd, testPassword, testUser, type Sshd } from '../support/sshd.ts';
import { failure } from '../support/failure.ts';
import { makeTempDir } from '../support/tempDir.ts';


/** The SSH link against a real OpenSSH server on 127.0.0.1. */
describe('SSH link', () => {
  const dir = makeTempDir();
  let sshd: Sshd;
  let appKey: AppSshKey;
  let pinned: string;
  const target = () => ({ host: '127.0.0.1', port: sshd.port, username: testUser });

  beforeAll(async () => {
    sshd = await startSshd();
    appKey = loadOrCreateAppSshKey(dir.path);
  });

  afterAll(async () => {
    await sshd.stop();
    dir.remove();
  });

  it('makes its own ed25519 key once, private to the user', () => {
    const again = loadOrCreateAppSshKey(dir.path);
    expect(again.publicKey).toBe(appKey.publicKey);
    expect(appKey.publicKey).toMatch(/^ssh-ed25519 AAAA/);
  });

  it('refuses an unknown host key unless the technician accepts it, showing the OpenSSH fingerprint', async () => {
    const refused = await failure(connectSsh({ target: target(), appKey, hostKey: { pinned: null }, password: testPassword }));
    expect(refused.code).toBe('HOST_KEY_UNTRUSTED');
    expect(refused.message).toContain(sshd.fingerprint);
    const declined = await failure(
      connectSsh({ target: target(), appKey, hostKey: { pinned: null, acceptFirstContact: () => Promise.resolve(false) }, password: testPassword }),
    );
    expect(declined.code).toBe('HOST_KEY_UNTRUSTED');
  });

  it('refuses a wrong password with AUTH_FAILED', async () => {
    const error = await failure(
      connectSsh({ target: target(), appKey, hostKey: { pinned: sshd.fingerprint }, password: 'wrong password' }),
    );
    expect(error.code).toBe('AUTH_FAILED');
  });

  it('uses the password once to install its key, then connects with the key alone', async () => {
    let shown = '';
    const first = await connectSsh({
      target: target(),
      appKey,
      hostKey: {
        pinned: null,
        acceptFirstContact: (fingerprint) => {
          shown = fingerprint;
          return Promise.resolve(true);
        },
      },
      password: testPassword,
    });
    expect(shown).toBe(sshd.fingerprint);
    expect(first.hostKeyFingerprint).toBe(sshd.fingerprint);
    expect(first.authenticatedWith).toBe('password');
    await installAppKey(first, appKey.publicKey);
    await installAppKey(first, appKey.publicKey); // idempotent: one line, not two
    const keys = await first.exec('cat ~/.ssh/authorized_keys');
    expect(keys.stdout.toString('utf8').trim().split('\n').filter((line) => line === appKey.publicKey)).toHaveLength(1);
    await first.close();
    pinned = first.hostKeyFingerprint;
    const second = await connectSsh({ target: target(), appKey, hostKey: { pinned } });
    expect(second.authenticatedWith).toBe('key');
    await second.close();
  });

  it('runs commands with exit codes, stderr and stdin', async () => {
    const link = await connectSsh({ target: target(), appKey, hostKey: { pinned } });
    try {
      const ok = await link.exec('echo out; echo err >&2; exit 3');
      expect(ok).toMatchObject({ code: 3 });
      expect(ok.stdout.toString('utf8')).toBe('out\n');
      expect(ok.stderr.toString('utf8')).toBe('err\n');
      const piped = await link.exec('wc -c', { stdin: Buffer.alloc(12345, 1) });
      expect(piped.stdout.toString('utf8').trim()).toBe('12345');
      const slow = await failure(link.exec('sleep 5', { timeoutMs: 200 }));
      expect(slow.code).toBe('TIMEOUT');
    } finally {
      await link.close();
    }
  });

  it('uploads a file, verified by SHA-256 on the far side, fast', async () => {
    const link = await connectSsh({ target: target(), appKey, hostKey: { pinned } });
    try {
      const local = join(dir.path, 'payload.bin');
      const data = randomBytes(64 * 1024 * 1024);
      writeFileSync(local, data);
      const progress: number[] = [];
      const started = performance.now();
      const result = await link.upload(local, `/home/${testUser}/payload.bin`, { onProgress: (done) => progress.push(done) });
      const seconds = (performance.now() - started) / 1000;
      expect(result.sha256).toBe(createHash('sha256').update(data).digest('hex'));
      expect(progress.at(-1)).toBe(data.length);
      const remote = await link.exec(`sha256sum /home/${testUser}/payload.bin; ls /home/${testUser}`);
      expect(remote.stdout.toString('utf8')).toContain(result.sha256);
      expect(remote.stdout.toString('utf8')).not.toContain('fieldkit-part');
      console.info(`SFTP upload on loopback: ${(data.length / 1e6 / seconds).toFixed(0)} MB/s`);
    } finally {
      await link.close();
    }
  });

  it('opens a byte stream to a remote command (the agent RPC rides on one)', async () => {
    const link = await connectSsh({ target: target(), appKey, hostKey: { pinned } });
    try {
      const stream = await link.openStream('cat');
      const echoed = new Promise<string>((resolve) => {
        let text = '';
        stream.readable.on('data', (chunk: Buffer) => {
          text += chunk.toString('utf8');
          if (text.includes('\0end')) resolve(text);
        });
      });
      stream.writable.write('binary \x00\xff safe\0end');
      expect(await echoed).toBe('binary \x00\xff safe\0end');
      stream.close();
      // Closing the channel ends the command; exit must settle, not hang.
      expect(await stream.exit).toHaveProperty('code');
    } finally {
      await link.close();
    }
  });

  it('refuses a changed host key with a clear warning', async () => {
    await sshd.rotateHostKey();
    const error = await failure(connectSsh({ target: target(), appKey, hostKey: { pinned } }));
    expect(error.code).toBe('HOST_KEY_CHANGED');
    expect(error.message).toContain(sshd.fingerprint);
    expect(error.message).toContain(pinned);
    expect(error.hint).toMatch(/do not connect/);
  });

  it('says UNAVAILABLE when nothing listens', async () => {
    const error = await failure(connectSsh({ target: { host: '127.0.0.1', port: 1, username: testUser }, appKey, hostKey: { pinned: null } }));
    expect(error.code).toBe('UNAVAILABLE');
    expect(error.message).toContain('connection refused');
  });
});
