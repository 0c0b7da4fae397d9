/**
 * Where the courier forwards to, and how the password is kept: the 0600 secret file, the
 * CLI that never echoes the password, job history that never holds it, refused
 * credentials, and TLS with a private CA and a client certificate (mutual TLS) in front of
 * a real ClickHouse 18.16.
 */
import Database from 'better-sqlite3';
import { execFileSync, spawn } from 'node:child_process';
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dispatch } from '../../electron/kernel/api/dispatch.ts';
import { createAppServices } from '../../electron/app/appServices.ts';
import { createEncryptedSecretStore, createFileSecretStore, encryptedSecretsFileName, secretsFileName } from '../../electron/kernel/secrets/secretStore.ts';
import { storeFileName } from '../../electron/kernel/store/openStore.ts';
import { ForwardResultSchema } from '../../shared/courier.ts';
import { syntheticEvents } from '../support/agentEvents.ts';
import { startClickHouseServer, type ClickHouseServer } from '../support/clickhouseServer.ts';
import { startCourierRig } from '../support/courierRig.ts';
import { cliEntry } from '../support/runCliProcess.ts';
import { makeTempDir } from '../support/tempDir.ts';

let server: ClickHouseServer;
const tmp = makeTempDir('fieldkit-courier-settings-');
// A user with a password: what a wrong password typed in a test must not replace.
const courierUser = { name: 'courier', password: 'w0rking-pw' };
beforeAll(async () => {
  server = await startClickHouseServer({ users: [courierUser] });
});
afterAll(async () => {
  await server.stop();
  tmp.remove();
});

function cli(dataDir: string, args: string[], stdin = ''): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [cliEntry, '--data-dir', dataDir, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdin.end(stdin);
  return new Promise((resolve) => child.on('close', (code) => {
    resolve({ code, stdout, stderr });
  }));
}

/** Every byte of the laptop store (database and its WAL), to prove a secret is not in it. */
function storeBytes(dataDir: string): string {
  return readdirSync(dataDir)
    .filter((f) => f.startsWith(storeFileName))
    .map((f) => readFileSync(join(dataDir, f)).toString('latin1'))
    .join('');
}

describe('the secret store', () => {
  it('keeps secrets in a 0600 file, replaced whole, and says what to do when it is damaged', async () => {
    const dir = join(tmp.path, 'secrets');
    const secrets = createFileSecretStore(dir);
    expect(await secrets.get('clickhouse.password')).toBeNull();
    await secrets.set('clickhouse.password', 'hunter2');
    await secrets.set('other', 'x');
    expect(await secrets.get('clickhouse.password')).toBe('hunter2');
    expect(statSync(join(dir, secretsFileName)).mode & 0o777).toBe(0o600);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    await secrets.delete('clickhouse.password');
    expect(await secrets.get('clickhouse.password')).toBeNull();
    expect(await secrets.get('other')).toBe('x');
    expect(readdirSync(dir)).toEqual([secretsFileName]);
    writeFileSync(join(dir, secretsFileName), '{"half": ');
    await expect(secrets.get('other')).rejects.toMatchObject({ appError: { code: 'IO_ERROR', hint: expect.stringContaining('set the ClickHouse password again') as unknown } });
  });


  it('under the OS keychain (Electron safeStorage) keeps only ciphertext on disk, and steps aside when there is no keychain', async () => {
    // safeStorage cannot run outside Electron: a stand-in with its shape, doing real AES-GCM under a key the "OS" holds.
    const key = randomBytes(32);
    const cipher = {
      isEncryptionAvailable: () => true,
      encryptString(plainText: string): Buffer {
        const iv = randomBytes(12);
        const c = createCipheriv('aes-256-gcm', key, iv);
        const body = Buffer.concat([c.update(plainText, 'utf8'), c.final()]);
        return Buffer.concat([iv, c.getAuthTag(), body]);
      },
      decryptString(sealed: Buffer): string {
        const d = createDecipheriv('aes-256-gcm', key, sealed.subarray(0, 12));
        d.setAuthTag(sealed.subarray(12, 28));
        return Buffer.concat([d.update(sealed.subarray(28)), d.final()]).toString('utf8');
      },
    };
    const dir = join(tmp.path, 'keychain');
    const secrets = createEncryptedSecretStore(dir, cipher);
    if (secrets === null) throw new Error('expected a store');
    await secrets.set('clickhouse.password', 'k3ychain-pw');
    expect(await secrets.get('clickhouse.password')).toBe('k3ychain-pw');
    const onDisk = readFileSync(join(dir, encryptedSecretsFileName), 'utf8');
    expect(onDisk).not.toContain('k3ychain-pw');
    expect(statSync(join(dir, encryptedSecretsFileName)).mode & 0o777).toBe(0o600);
    expect(secrets.description).toContain('keychain');
    expect(createEncryptedSecretStore(dir, { ...cipher, isEncryptionAvailable: () => false })).toBeNull();

    // The app's services use it for the password when given one.
    const services = await createAppServices({ dataDir: join(tmp.path, 'keychain-app'), version: 'test', secretStore: secrets });
    try {
      await services.handlers['settings.clickhouse.set']({ url: server.url, password: 'n3w-pw' });
      expect(await secrets.get('clickhouse.password')).toBe('n3w-pw');
      expect(existsSync(join(tmp.path, 'keychain-app', secretsFileName))).toBe(false);
    } finally {
      await services.close();
    }
  });
});

describe('fieldkit settings clickhouse', () => {
  const dataDir = join(tmp.path, 'cli');

  it('takes the password on stdin, never prints it, keeps it only in the secret file', async () => {
    const set = await cli(dataDir, ['settings', 'clickhouse', '--url', server.url, '--user', 'fieldkit', '--password-stdin', '--table', 'tele', '--batch-rows', '20000'], 's3cret-pw\n');
    expect(set.code).toBe(0);
    expect(set.stdout).toMatch(/password\s+set/);
    expect(set.stdout + set.stderr).not.toContain('s3cret-pw');
    const shown = await cli(dataDir, ['--json', 'settings', 'clickhouse']);
    expect(JSON.parse(shown.stdout)).toEqual({
      settings: { url: server.url, user: 'fieldkit', database: 'default', table: 'tele', cluster: null, tls: { caFile: null, certFile: null, keyFile: null }, batchRows: 20_000, passwordSet: true },
    });
    expect(shown.stdout).not.toContain('s3cret-pw');
    expect(JSON.parse(readFileSync(join(dataDir, secretsFileName), 'utf8'))).toEqual({ 'clickhouse.password': 's3cret-pw' });
    expect(storeBytes(dataDir)).not.toContain('s3cret-pw');

    const bad = await cli(dataDir, ['settings', 'clickhouse', '--cert', '/etc/hostname']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('Mutual TLS needs both a client certificate and its key.');
    const cleared = await cli(dataDir, ['--json', 'settings', 'clickhouse', '--clear-password', '--user', 'default']);
    expect(JSON.parse(cleared.stdout)).toMatchObject({ settings: { passwordSet: false, user: 'default' } });
    const tested = await cli(dataDir, ['settings', 'clickhouse', '--test']);
    expect(tested.code).toBe(0);
    expect(tested.stdout).toMatch(/^Connected to ClickHouse 18\.16\.\S+ at http:\/\/127\.0\.0\.1:\d+ in [\d.]+ ms\.\nIt predates insert_deduplication_token/);
  });

  it('refuses a wrong password or an unknown user as PERMISSION_DENIED, and a forward job never records the password', async () => {
    const rig = await startCourierRig({ deviceId: 'pi-31' });
    try {
      rig.ingest(syntheticEvents(2000));
      await rig.pull();
      await rig.services.handlers['settings.clickhouse.set']({ url: server.url, user: 'nobody', password: 'wr0ng-pw' });
      await expect(rig.services.handlers['settings.clickhouse.test']({})).rejects.toMatchObject({ appError: { code: 'PERMISSION_DENIED' } });
      await rig.services.handlers['settings.clickhouse.set']({ user: 'default' });
      const job = await rig.forward();
      expect(job.state).toBe('failed');
      expect(job.error).toMatchObject({ code: 'PERMISSION_DENIED', hint: expect.stringContaining('--password-stdin') as unknown });
      expect(rig.held().pending).toBe(2000);
      const db = new Database(join(rig.dataDir, storeFileName), { readonly: true });
      try {
        const params = db.prepare(`SELECT params FROM jobs WHERE kind = 'courier.forward'`).pluck().all() as string[];
        expect(params).toHaveLength(1);
        expect(params[0]).not.toContain('wr0ng-pw');
      } finally {
        db.close();
      }
      expect(storeBytes(rig.dataDir)).not.toContain('wr0ng-pw');
    } finally {
      await rig.close();
    }
  });
});

describe('testing ClickHouse settings before saving them', () => {
  it('tests a wrong password without saving it: the working password stays, and forward still works', async () => {
    const rig = await startCourierRig({ deviceId: 'pi-33' });
    try {
      rig.ingest(syntheticEvents(1500));
      await rig.pull();
      const call = (method: 'settings.clickhouse.test' | 'settings.clickhouse.get', params: unknown) => dispatch(rig.services.handlers, method, params);
      await rig.services.handlers['settings.clickhouse.set']({ url: server.url, user: courierUser.name, password: courierUser.password, table: 'tested_first' });
      const savedBefore = await call('settings.clickhouse.get', {});

      const wrong = await call('settings.clickhouse.test', { password: 'wr0ng-pw' });
      expect(wrong).toMatchObject({ ok: false, error: { code: 'PERMISSION_DENIED' } });
      expect(JSON.stringify(wrong)).not.toContain('wr0ng-pw');
      // Nothing was saved: the secret and the settings are what they were.
      expect(JSON.parse(readFileSync(join(rig.dataDir, secretsFileName), 'utf8'))).toEqual({ 'clickhouse.password': courierUser.password });
      expect(await call('settings.clickhouse.get', {})).toEqual(savedBefore);
      expect(storeBytes(rig.dataDir)).not.toContain('wr0ng-pw');

      // Typed values are tested as typed: the right password and another user both answer, unsaved.
      expect(await call('settings.clickhouse.test', { password: courierUser.password })).toMatchObject({ ok: true, value: { version: expect.stringMatching(/^18\.16\./) as unknown } });
      expect(await call('settings.clickhouse.test', { user: 'default', password: null })).toMatchObject({ ok: true });
      expect(await call('settings.clickhouse.get', {})).toEqual(savedBefore);
      // Checked at the boundary like a save.
      expect(await call('settings.clickhouse.test', { url: 'ch.example.com:8123' })).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST', field: 'url', message: expect.stringContaining('Add http:// or https:// in front, such as http://ch.example.com:8123') as unknown } });

      const job = await rig.forward();
      expect(job.error).toBeNull();
      expect(ForwardResultSchema.parse(job.result).forwarded).toBe(1500);
      expect((await server.client(`SELECT count() FROM tested_first FINAL`)).trim()).toBe('1500');
    } finally {
      await rig.close();
    }
  });

  it('says "this server speaks http://" for https:// against the plain-HTTP port, in a test and in a forward', async () => {
    const rig = await startCourierRig({ deviceId: 'pi-34' });
    try {
      await rig.services.handlers['settings.clickhouse.set']({ url: server.url });
      const https = `https://127.0.0.1:${server.httpPort}/`;
      const expected = { code: 'BAD_REQUEST', field: 'url', message: `This server speaks http:// on port ${server.httpPort}, not https://: use http://127.0.0.1:${server.httpPort}.` };
      expect(await dispatch(rig.services.handlers, 'settings.clickhouse.test', { url: https })).toMatchObject({ ok: false, error: expected });
      expect((await rig.services.handlers['settings.clickhouse.get']({})).settings?.url).toBe(server.url);
      rig.ingest(syntheticEvents(10));
      await rig.pull();
      await rig.services.handlers['settings.clickhouse.set']({ url: https });
      const job = await rig.forward();
      expect(job.state).toBe('failed');
      expect(job.error).toMatchObject(expected);
      expect(job.error?.message).not.toMatch(/wrong version number|SSL routines/);
    } finally {
      await rig.close();
    }
  });

  it('fieldkit settings clickhouse --test tries the given password without saving it; --save keeps it after a good test', async () => {
    const dataDir = join(tmp.path, 'cli-test-first');
    expect((await cli(dataDir, ['settings', 'clickhouse', '--url', server.url, '--user', courierUser.name, '--password-stdin'], `${courierUser.password}\n`)).code).toBe(0);
    const wrong = await cli(dataDir, ['settings', 'clickhouse', '--password-stdin', '--test'], 'wr0ng-pw\n');
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toContain('ClickHouse refused the user or password');
    expect(wrong.stdout + wrong.stderr).not.toContain('wr0ng-pw');
    expect(JSON.parse(readFileSync(join(dataDir, secretsFileName), 'utf8'))).toEqual({ 'clickhouse.password': courierUser.password });
    const tried = await cli(dataDir, ['settings', 'clickhouse', '--user', 'default', '--clear-password', '--test']);
    expect(tried.code).toBe(0);
    expect(tried.stdout).toMatch(/^Connected to ClickHouse 18\.16\.[\s\S]*\nNot saved: run it again with --save/);
    expect(JSON.parse((await cli(dataDir, ['--json', 'settings', 'clickhouse'])).stdout)).toMatchObject({ settings: { user: courierUser.name, passwordSet: true } });
    const kept = await cli(dataDir, ['settings', 'clickhouse', '--user', 'default', '--clear-password', '--test', '--save']);
    expect(kept.stdout).toMatch(/\nSaved\.$/m);
    expect(JSON.parse((await cli(dataDir, ['--json', 'settings', 'clickhouse'])).stdout)).toMatchObject({ settings: { user: 'default', passwordSet: false } });
    const https = await cli(dataDir, ['settings', 'clickhouse', '--url', `https://127.0.0.1:${server.httpPort}`, '--test']);
    expect(https.stderr).toContain(`This server speaks http:// on port ${server.httpPort}, not https://: use http://127.0.0.1:${server.httpPort}.`);
  });
});

describe('TLS and mutual TLS in front of ClickHouse', () => {
  const pki = join(tmp.path, 'pki');
  let proxy: TlsServer;
  let proxyPort = 0;

  beforeAll(async () => {
    execFileSync('mkdir', ['-p', pki]);
    const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: pki, stdio: 'ignore' });
    ssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=fieldkit test CA');
    for (const name of ['server', 'client']) {
      ssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name === 'server' ? '127.0.0.1' : 'fieldkit-courier'}`);
      writeFileSync(join(pki, `${name}.ext`), name === 'server' ? 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' : 'extendedKeyUsage=clientAuth\n');
      ssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.pem`, '-days', '2', '-extfile', `${name}.ext`);
    }
    // TLS terminates here and the bytes go on to ClickHouse's HTTP port: a client without a
    // certificate signed by the CA never reaches the server.
    proxy = createTlsServer(
      { key: readFileSync(join(pki, 'server.key')), cert: readFileSync(join(pki, 'server.pem')), ca: readFileSync(join(pki, 'ca.pem')), requestCert: true, rejectUnauthorized: true },
      (socket) => {
        const upstream = connect(server.httpPort, '127.0.0.1');
        socket.pipe(upstream).pipe(socket);
        socket.on('error', () => upstream.destroy());
        upstream.on('error', () => socket.destroy());
      },
    );
    proxy.on('tlsClientError', () => undefined);
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const address = proxy.address();
    proxyPort = typeof address === 'object' && address !== null ? address.port : 0;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => proxy.close(() => {
      resolve();
    }));
  });

  it('connects and forwards with the private CA and a client certificate; without them it says TLS failed', async () => {
    expect(existsSync(join(pki, 'client.pem'))).toBe(true);
    const services = await createAppServices({ dataDir: join(tmp.path, 'tls'), version: 'test' });
    try {
      const url = `https://127.0.0.1:${proxyPort}/`;
      // The private CA alone: the proxy asks for a client certificate and gets none.
      await services.handlers['settings.clickhouse.set']({ url, caFile: join(pki, 'ca.pem') });
      await expect(services.handlers['settings.clickhouse.test']({})).rejects.toMatchObject({
        appError: { code: 'VERIFICATION_FAILED', message: expect.stringMatching(/^TLS with ClickHouse at https:\/\/127\.0\.0\.1:\d+ failed: .*certificate required/) as unknown },
      });
      // No CA: the server's certificate is not trusted.
      await services.handlers['settings.clickhouse.set']({ caFile: null, certFile: join(pki, 'client.pem'), keyFile: join(pki, 'client.key') });
      await expect(services.handlers['settings.clickhouse.test']({})).rejects.toMatchObject({ appError: { code: 'VERIFICATION_FAILED', hint: expect.stringContaining('CA file') as unknown } });
      await services.handlers['settings.clickhouse.set']({ caFile: join(pki, 'ca.pem') });
      const ok = await services.handlers['settings.clickhouse.test']({});
      expect(ok).toMatchObject({ url: `https://127.0.0.1:${proxyPort}`, version: expect.stringMatching(/^18\.16\./) as unknown });
      // The converse: http:// to the TLS port says to use https://, not "not reachable".
      await expect(services.handlers['settings.clickhouse.test']({ url: `http://127.0.0.1:${proxyPort}/`, caFile: null, certFile: null, keyFile: null })).rejects.toMatchObject({
        appError: { code: 'BAD_REQUEST', field: 'url', message: `This server speaks https:// on port ${proxyPort}, not plain http://: use https://127.0.0.1:${proxyPort}.` },
      });
    } finally {
      await services.close();
    }

    const rig = await startCourierRig({ deviceId: 'pi-32' });
    try {
      rig.ingest(syntheticEvents(3000));
      await rig.pull();
      await rig.services.handlers['settings.clickhouse.set']({ url: `https://127.0.0.1:${proxyPort}/`, table: 'over_tls', caFile: join(pki, 'ca.pem'), certFile: join(pki, 'client.pem'), keyFile: join(pki, 'client.key') });
      const job = await rig.forward();
      expect(job.error).toBeNull();
      expect(ForwardResultSchema.parse(job.result).forwarded).toBe(3000);
      expect((await server.client(`SELECT count() FROM over_tls FINAL`)).trim()).toBe('3000');
    } finally {
      await rig.close();
    }
  });
});
