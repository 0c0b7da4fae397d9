import Database from 'better-sqlite3';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PullResultSchema } from '../../shared/courier.ts';
import { createAppServices, type AppServices } from '../../electron/app/appServices.ts';
import { openingRead, runPull } from '../../electron/courier/pullDevice.ts';
import type { JobContext } from '../../electron/kernel/jobs/jobContext.ts';
import type { WorkerProgress } from '../../electron/kernel/jobs/jobProtocol.ts';
import { storeFileName } from '../../electron/kernel/store/openStore.ts';
import { ingestWithAgentCli, syntheticEvents } from '../support/agentEvents.ts';
import { installTestAgent, type TestAgentInstall } from '../support/installTestAgent.ts';
import { startSshd, testPassword, testUser, type Sshd } from '../support/sshd.ts';
import { makeTempDir } from '../support/tempDir.ts';

/** Pulling journals from real agents, over the local link and over SSH with a cut. */
describe('courier pull', () => {
  const dir = makeTempDir();
  let services: AppServices;
  let sshd: Sshd;
  let local: TestAgentInstall;
  let remote: TestAgentInstall;
  const dataDir = () => join(dir.path, 'data');
  const launcher = (a: TestAgentInstall) => join(a.prefix, 'current', 'bin', 'fieldkit-agent');

  beforeAll(async () => {
    [sshd, local, remote] = await Promise.all([startSshd(), installTestAgent({ deviceId: 'demo-01' }), installTestAgent({ deviceId: 'pi-07', owner: testUser })]);
    services = await createAppServices({ dataDir: dataDir(), version: 'test' });
  });

  afterAll(async () => {
    await services.close();
    await sshd.stop();
    local.remove();
    remote.remove();
    dir.remove();
  });

  function held(deviceId: string): { n: number; min: number; max: number; uniq: number } {
    const db = new Database(join(dataDir(), storeFileName), { readonly: true });
    try {
      return db.prepare(`SELECT count(*) AS n, min(seq) AS min, max(seq) AS max, count(DISTINCT seq) AS uniq FROM courier_records WHERE device_id = ?`).get(deviceId) as {
        n: number;
        min: number;
        max: number;
        uniq: number;
      };
    } finally {
      db.close();
    }
  }

  async function pull(id: string) {
    const { jobId } = await services.handlers['courier.pull']({ id });
    return services.jobs.whenFinished(jobId);
  }

  it('pulls every record of a local agent once, and again pulls nothing new', async () => {
    ingestWithAgentCli(launcher(local), syntheticEvents(3000));
    const { device } = await services.handlers['devices.add']({ name: 'demo-01', site: 'lab', link: { kind: 'local', agentCommand: `${launcher(local)} rpc` } });
    const first = await pull(device.id);
    expect(first.state).toBe('done');
    const result = PullResultSchema.parse(first.result);
    // Safety events (priority 1: every 97th) travel first; the full pass does not count them again.
    expect(result.journals[0]).toMatchObject({ pulled: 3000, new_records: 3000, contiguous_seq: 3000, agent_last_seq: 3000 });
    expect(held('demo-01')).toEqual({ n: 3000, min: 1, max: 3000, uniq: 3000 });
    const second = PullResultSchema.parse((await pull(device.id)).result);
    expect(second.journals[0]?.new_records).toBe(0);
    const { journals } = await services.handlers['courier.status']({});
    expect(journals.find((j) => j.device_id === 'demo-01')).toMatchObject({ held: 3000, pending_forward: 3000, custody_acked_seq: 3000 });
  });

  it('keeps separate custody when two laptops pull the same Pi', async () => {
    const other = await createAppServices({ dataDir: join(dir.path, 'second-laptop'), version: 'test' });
    try {
      const { device } = await other.handlers['devices.add']({ name: 'demo-01', link: { kind: 'local', agentCommand: `${launcher(local)} rpc` } });
      const { jobId } = await other.handlers['courier.pull']({ id: device.id });
      const record = await other.jobs.whenFinished(jobId);
      expect(PullResultSchema.parse(record.result).journals[0]).toMatchObject({ new_records: 3000, contiguous_seq: 3000 });
      const status = execFileSync(launcher(local), ['status', '--json'], { encoding: 'utf8' });
      const custody = (JSON.parse(status) as { journal: { custody: { courier_id: string; through_seq: number }[] } }).journal.custody;
      expect(custody).toHaveLength(2);
      expect(custody.every((c) => c.through_seq === 3000)).toBe(true);
    } finally {
      await other.close();
    }
  });

  it('counts records and bytes from the first short read, not after a whole batch', async () => {
    const before = held('demo-01').n;
    ingestWithAgentCli(launcher(local), syntheticEvents(30_000));
    const device = (await services.handlers['devices.list']({})).devices.find((d) => d.name === 'demo-01');
    if (device === undefined) throw new Error('demo-01 missing');
    // Every progress the job itself reports, before the runner's ≤10/s throttle.
    const reported: WorkerProgress[] = [];
    const ctx: JobContext = { signal: new AbortController().signal, progress: (p) => reported.push(p), log: () => undefined, secrets: {} };
    const result = await runPull({ dataDir: dataDir(), deviceRef: device.id, deviceName: device.name }, ctx);
    expect(result.journals[0]?.new_records).toBe(30_000);
    const pulling = reported.filter((p) => p.phase === 'pulling');
    const first = pulling[0];
    // The first count comes after the opening read's few hundred records (a full batch is 20,000)…
    expect(first?.bytesDone).toBeGreaterThan(0);
    expect(first?.bytesDone).toBeLessThanOrEqual(openingRead.records);
    expect(first?.bytesTotal).toBe(30_000);
    // …with the bytes that carried them, growing to the end.
    expect(first?.bytesReceived).toBeGreaterThan(0);
    expect(pulling.at(-1)).toMatchObject({ bytesDone: 30_000, bytesTotal: 30_000 });
    expect(pulling.at(-1)?.bytesReceived).toBeGreaterThan(first?.bytesReceived ?? 0);
    expect(held('demo-01').n).toBe(before + 30_000);
  });

  it('reconnects after the SSH link is cut mid-pull: no gap, no duplicate', async () => {
    ingestWithAgentCli(launcher(remote), syntheticEvents(60_000), testUser);
    const { device } = await services.handlers['devices.add']({
      name: 'pi-07',
      link: { kind: 'ssh', host: '127.0.0.1', port: sshd.port, username: testUser, agentPrefix: remote.prefix },
    });
    const scan = await services.handlers['devices.scanHostKey']({ id: device.id });
    await services.handlers['devices.trustHostKey']({ id: device.id, fingerprint: scan.fingerprint });
    await services.handlers['devices.connect']({ id: device.id, password: testPassword });

    const { jobId } = await services.handlers['courier.pull']({ id: device.id });
    // Cut the link once some batches are stored.
    await new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        if (held('pi-07').n >= 10_000) {
          clearInterval(timer);
          resolve();
        }
      }, 20);
    });
    sshd.killSessions();
    const cut = await services.jobs.whenFinished(jobId);
    // The job reconnected by itself and carried on from its watermark.
    expect(cut.error).toBeNull();
    expect(cut.state).toBe('done');
    expect(cut.log.some((line) => line.message.includes('reconnecting'))).toBe(true);
    expect(held('pi-07')).toEqual({ n: 60_000, min: 1, max: 60_000, uniq: 60_000 });

    // Pulling again finds nothing new.
    const again = await services.handlers['courier.pull']({ id: device.id });
    const resumed = await services.jobs.whenFinished(again.jobId);
    expect(PullResultSchema.parse(resumed.result).journals[0]?.new_records).toBe(0);
    const { journals } = await services.handlers['courier.status']({});
    expect(journals.find((j) => j.device_id === 'pi-07')).toMatchObject({ held: 60_000, contiguous_seq: 60_000, custody_acked_seq: 60_000 });
  });

  it('gives up with UNAVAILABLE and what to do when the device stays unreachable', async () => {
    const { devices } = await services.handlers['devices.list']({});
    const pi = devices.find((d) => d.name === 'pi-07');
    if (!pi) throw new Error('pi-07 missing');
    await sshd.stop();
    const { jobId } = await services.handlers['courier.pull']({ id: pi.id });
    const record = await services.jobs.whenFinished(jobId);
    expect(record.state).toBe('failed');
    expect(record.error).toMatchObject({ code: 'UNAVAILABLE' });
    expect(record.error?.hint).toMatch(/powered|network/);
  });
});
