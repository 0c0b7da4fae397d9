/**
 * The flash helper's channel, for real: the helper process started as root (as in these
 * tests) or by the job's worker. A connection with the wrong token is cut off while the
 * real helper gets in; nobody can connect after it; a worker that stops sending heartbeats
 * makes the helper abort its write (drive marked incomplete) and exit; a worker killed with
 * SIGKILL takes its helper with it within 5 s; of two drives written at once, one pulled
 * mid-write ends incomplete while the other succeeds.
 */
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { createConnection, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestImage } from '../../build/make-test-image.ts';
import { dispatch } from '../../electron/kernel/api/dispatch.ts';
import { createAppServices, type AppServices } from '../../electron/app/appServices.ts';
import { channelSocketPath, startFlashHelper } from '../../electron/flash/helperChannel.ts';
import { HelperToWorkerSchema, readMessages, writeMessage, type HelperToWorker } from '../../electron/flash/helperMessages.ts';
import { generateSecretKey } from '../../electron/kernel/signing/minisign.ts';
import { formatPublicKey, publicKeyBase64, publicKeyOf } from '../../electron/kernel/signing/minisignFormat.ts';
import type { ResponseOf } from '../../shared/api.ts';
import { isFieldkitError } from '../../shared/errors.ts';
import type { JobEvent } from '../../shared/jobs.ts';
import { makeBigTestImage } from '../support/bigTestImage.ts';
import { throttleWrites } from '../support/slowDrive.ts';
import { makeTempDir } from '../support/tempDir.ts';
import { createLoop, type LoopDevice } from '../support/loopDevice.ts';
import { createZram, removeZrams, type ZramDevice } from '../support/zram.ts';
import { readBytes } from '../support/readBytes.ts';

const mib = 1 << 20;
const dir = makeTempDir('fieldkit-flash-helper-');
const at = (name: string): string => path.join(dir.path, name);
const key = generateSecretKey();
const devices: ZramDevice[] = [];
const loops: LoopDevice[] = [];
let services: AppServices;
const events: JobEvent[] = [];

function zram(bytes: number): ZramDevice {
  const device = createZram(bytes);
  devices.push(device);
  // Old content in the first MiB, so "zeroed" means the flash zeroed it.
  execFileSync('dd', ['if=/dev/urandom', `of=${device.device}`, 'bs=1M', 'count=1', 'oflag=direct', 'status=none']);
  return device;
}

function head(device: string): Buffer {
  return readBytes(device, 0, mib);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

beforeAll(async () => {
  await makeTestImage(at('raw.img'));
  await makeBigTestImage(at('raw.img'), at('big.fkimg'), key);
  services = await createAppServices({ dataDir: at('data'), version: 'test', watchDrives: false });
  services.events.subscribe((name, payload) => {
    if (name === 'job.event') events.push(payload as JobEvent);
  });
  const imported = await dispatch(services.handlers, 'trust.import', { publicKey: formatPublicKey(publicKeyOf(key)), label: 'demo release key' });
  if (!imported.ok) throw new Error(imported.error.message);
}, 40_000);

afterAll(async () => {
  for (const loop of loops) loop.detach();
  await services.close();
  try {
    await removeZrams(devices);
  } finally {
    dir.remove();
  }
});

describe('flash helper channel', () => {
  it('cuts off a connection with the wrong token, lets the real helper in, then accepts nobody', async () => {
    const impostor: { closed: Promise<boolean> | null; dir: string } = { closed: null, dir: '' };
    const helper = await startFlashHelper({
      onListening: ({ dir: channelDir, socketPath }) => {
        impostor.dir = channelDir;
        expect(statSync(channelDir).mode & 0o777).toBe(0o700);
        expect(statSync(path.join(channelDir, 'token')).mode & 0o777).toBe(0o600);
        impostor.closed = new Promise((resolve) => {
          const socket = createConnection(socketPath, () => {
            writeMessage(socket, { type: 'hello', token: randomBytes(32).toString('hex'), pid: process.pid });
          });
          socket.on('close', () => {
            resolve(true);
          });
          socket.on('error', () => undefined);
        });
      },
    });
    try {
      expect(await impostor.closed).toBe(true);
      expect(alive(helper.pid)).toBe(true);
      // The helper read its token and deleted it; the socket no longer accepts anyone.
      expect(existsSync(path.join(impostor.dir, 'token'))).toBe(false);
      const late = await new Promise<string>((resolve) => {
        const socket = createConnection(channelSocketPath(impostor.dir), () => {
          socket.destroy();
          resolve('connected');
        });
        socket.on('error', (error: NodeJS.ErrnoException) => {
          resolve(error.code ?? 'error');
        });
      });
      expect(late).toMatch(/ENOENT|ECONNREFUSED/);
    } finally {
      await helper.close();
    }
    await expect.poll(() => alive(helper.pid), { timeout: 5000, interval: 50 }).toBe(false);
  });

  it('an elevation that does not start the helper is refused with what to do, and leaves no channel behind', async () => {
    // pkexec is not installed here: to fieldkit that is the same as a prompt that was refused.
    const seen: { dir: string } = { dir: '' };
    const error = await startFlashHelper({ elevation: 'pkexec', onListening: ({ dir: channelDir }) => (seen.dir = channelDir) }).then(
      () => null,
      (e: unknown) => (isFieldkitError(e) ? e.appError : null),
    );
    expect(error?.code).toBe('PERMISSION_DENIED');
    expect(error?.message).toContain('pkexec');
    expect(error?.hint).toContain('nothing was written');
    expect(existsSync(seen.dir)).toBe(false);
  });

  it('a worker that falls silent mid-write: the helper aborts, the drive ends zeroed (incomplete), and the helper exits within 5 s', async () => {
    const target = zram(192 * mib);
    const throttle = throttleWrites(target.device, 8 * mib);
    // Plays the worker by hand, so it can stop the heartbeat while keeping the socket open.
    const channelDir = mkdtempSync(path.join(tmpdir(), 'fieldkit-flash-test-'));
    const token = randomBytes(32).toString('hex');
    writeFileSync(path.join(channelDir, 'token'), token, { mode: 0o600 });
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(channelSocketPath(channelDir), resolve));
    const child = spawn(process.execPath, ['electron/flash/flashHelper.ts', '--channel', channelDir], { stdio: 'inherit' });
    const exited = new Promise<number>((resolve) => child.on('exit', () => {
      resolve(Date.now());
    }));
    try {
      const socket = await new Promise<Socket>((resolve) => server.once('connection', resolve));
      const heard: HelperToWorker[] = [];
      readMessages(socket, HelperToWorkerSchema, (m) => heard.push(m), () => undefined);
      await expect.poll(() => heard.some((m) => m.type === 'hello'), { timeout: 5000 }).toBe(true);
      writeMessage(socket, {
        type: 'flash',
        request: { imagePath: at('big.fkimg'), kind: 'signed', trustedKeys: [publicKeyBase64(publicKeyOf(key))], targets: [{ device: target.device, raw: target.device, description: 'zram' }], skipZeroBlocks: false, writeAll: false, eject: false, appSshPublicKey: null },
      });
      await expect.poll(() => heard.some((m) => m.type === 'target' && m.update.state === 'writing' && m.update.bytesDone > 0), { timeout: 10_000, interval: 20 }).toBe(true);
      const silentSince = Date.now();
      // From now on the "worker" says nothing, yet keeps the socket open.
      const exitAt = await exited;
      expect(exitAt - silentSince).toBeLessThan(5000);
      socket.destroy();
    } finally {
      child.kill('SIGKILL');
      server.close();
      await throttle.release();
    }
    expect(head(target.device).equals(Buffer.alloc(mib))).toBe(true);
  });

  it('kill -9 of the job worker: its helper is gone within 5 s and the drive is left zeroed (incomplete)', async () => {
    const target = zram(192 * mib);
    const throttle = throttleWrites(target.device, 8 * mib);
    try {
      const started = await dispatch(services.handlers, 'flash.start', { imagePath: at('big.fkimg'), targets: [{ device: target.device, expectSizeBytes: target.sizeBytes }], eject: false });
      if (!started.ok) throw new Error(started.error.message);
      const { jobId } = started.value as ResponseOf<'flash.start'>;
      await expect
        .poll(() => events.some((e) => e.jobId === jobId && e.type === 'progress' && e.progress.targets?.[0]?.state === 'writing' && e.progress.targets[0].bytesDone > 0), { timeout: 20_000, interval: 20 })
        .toBe(true);
      const helperLine = events.find((e) => e.jobId === jobId && e.type === 'log' && e.message.startsWith('Flash helper started'));
      const helperPid = Number(/pid (\d+)/.exec(helperLine?.type === 'log' ? helperLine.message : '')?.[1]);
      expect(alive(helperPid)).toBe(true);
      const workerPid = services.jobs.workerPid(jobId);
      if (workerPid === undefined) throw new Error('no worker');
      const killedAt = Date.now();
      process.kill(workerPid, 'SIGKILL');
      await expect.poll(() => alive(helperPid), { timeout: 5000, interval: 20 }).toBe(false);
      expect(Date.now() - killedAt).toBeLessThan(5000);
      const record = await services.jobs.whenFinished(jobId);
      expect(record.state).toBe('failed');
      expect(record.error?.code).toBe('WORKER_DIED');
    } finally {
      await throttle.release();
    }
    expect(head(target.device).equals(Buffer.alloc(mib))).toBe(true);
  });

  it('two drives at once, one pulled mid-write: it ends incomplete naming the drive, the other still succeeds', async () => {
    const good = zram(192 * mib);
    const card = createLoop(at('card.bin'), 192 * mib);
    loops.push(card);
    const throttle = throttleWrites(card.device, 8 * mib);
    const helper = await startFlashHelper();
    try {
      const heard: HelperToWorker[] = [];
      helper.onMessage((m) => heard.push(m));
      helper.send({
        type: 'flash',
        request: {
          imagePath: at('big.fkimg'),
          kind: 'signed',
          trustedKeys: [publicKeyBase64(publicKeyOf(key))],
          targets: [
            { device: good.device, raw: good.device, description: 'zram' },
            { device: card.device, raw: card.device, description: 'card reader' },
          ],
          skipZeroBlocks: false,
          writeAll: false,
          eject: false,
          appSshPublicKey: null,
        },
      });
      await expect.poll(() => heard.some((m) => m.type === 'target' && m.update.device === card.device && m.update.state === 'writing' && m.update.bytesDone > 0), { timeout: 10_000, interval: 20 }).toBe(true);
      card.pull();
      await expect.poll(() => heard.some((m) => m.type === 'finished'), { timeout: 30_000, interval: 50 }).toBe(true);
      const results = heard.flatMap((m) => (m.type === 'result' ? [m.result] : []));
      expect(results.find((r) => r.device === good.device)?.status).toBe('success');
      const pulled = results.find((r) => r.device === card.device);
      expect(pulled).toMatchObject({ status: 'incomplete', label: 'incomplete — do not use' });
      expect(pulled?.error?.message).toContain(card.device);
    } finally {
      await helper.close();
      await throttle.release();
    }
  });
});
