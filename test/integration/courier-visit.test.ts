import Database from 'better-sqlite3';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAppServices, type AppServices } from '../../electron/app/appServices.ts';
import { storeFileName } from '../../electron/kernel/store/openStore.ts';
import type { JobEvent } from '../../shared/jobs.ts';
import { SiteVisitResultSchema } from '../../shared/siteVisit.ts';
import { ingestWithAgentCli, syntheticEvents } from '../support/agentEvents.ts';
import { installTestAgent, type TestAgentInstall } from '../support/installTestAgent.ts';
import { runCliProcess, startCliProcess } from '../support/runCliProcess.ts';
import { startSshd, testUser } from '../support/sshd.ts';
import { makeTempDir } from '../support/tempDir.ts';
import { waitFor } from '../support/waitFor.ts';

const perDevice = 5000;
/** syntheticEvents makes every 97th event a safety event (priority 1). */
const safetyPerDevice = Math.ceil(perDevice / 97);

/**
 * A site visit against real agents (local links, each agent a real `fieldkit-agent rpc`)
 * and a real sshd that went away: bounded parallelism seen from the agents' side, safety
 * events of every device stored before any bulk record, an unreachable device retried and
 * reported while the others complete, and a cancel that loses and duplicates nothing.
 */
describe('courier site visit', () => {
  const dir = makeTempDir();
  const sessionLog = join(dir.path, 'sessions.log');
  const agents: TestAgentInstall[] = [];
  let services: AppServices;
  const launcher = (a: TestAgentInstall) => join(a.prefix, 'current', 'bin', 'fieldkit-agent');

  beforeAll(async () => {
    writeFileSync(sessionLog, '');
    agents.push(...(await Promise.all(['north-01', 'north-02', 'north-03', 'north-04'].map((deviceId) => installTestAgent({ deviceId })))));
    for (const agent of agents) ingestWithAgentCli(launcher(agent), syntheticEvents(perDevice));
    services = await createAppServices({ dataDir: join(dir.path, 'data'), version: 'test' });
    for (const agent of agents) {
      // Each agent session writes a line when it starts and when it ends: how many are open at once is seen from outside the visit.
      const command = `echo "start ${agent.deviceId}" >> ${sessionLog}; ${launcher(agent)} rpc; echo "end ${agent.deviceId}" >> ${sessionLog}`;
      await services.handlers['devices.add']({ name: agent.deviceId, site: 'north', link: { kind: 'local', agentCommand: command } });
    }
    // A Pi whose key was pinned on an earlier visit, switched off today: its SSH port refuses.
    const sshd = await startSshd();
    const { device } = await services.handlers['devices.add']({ name: 'north-05', site: 'north', link: { kind: 'ssh', host: '127.0.0.1', port: sshd.port, username: testUser, agentPrefix: '/opt/fieldkit-agent' } });
    const scan = await services.handlers['devices.scanHostKey']({ id: device.id });
    await services.handlers['devices.trustHostKey']({ id: device.id, fingerprint: scan.fingerprint });
    await sshd.stop();
    // A device of another site, which a visit of "north" must leave alone.
    await services.handlers['devices.add']({ name: 'south-01', site: 'south', link: { kind: 'local', agentCommand: 'exit 3' } });
  });

  afterAll(async () => {
    await services.close();
    for (const agent of agents) agent.remove();
    dir.remove();
  });

  function store(sql: string, ...args: unknown[]): Record<string, number | undefined> {
    const db = new Database(join(dir.path, 'data', storeFileName), { readonly: true });
    try {
      return db.prepare(sql).get(...args) as Record<string, number | undefined>;
    } finally {
      db.close();
    }
  }

  /** The most agent sessions open at once, from their own start/end lines. */
  function maxConcurrentSessions(): { max: number; sessions: number } {
    let open = 0;
    let max = 0;
    let sessions = 0;
    for (const line of readFileSync(sessionLog, 'utf8').split('\n')) {
      if (line.startsWith('start ')) {
        sessions++;
        max = Math.max(max, ++open);
      } else if (line.startsWith('end ')) open--;
    }
    return { max, sessions };
  }

  function custodyOf(agent: TestAgentInstall): number {
    const status = JSON.parse(execFileSync(launcher(agent), ['status', '--json'], { encoding: 'utf8' })) as { journal: { custody: { through_seq: number }[] } };
    return Math.max(0, ...status.journal.custody.map((c) => c.through_seq));
  }

  it('pulls a site two at a time, safety events of every device first; the unreachable one is retried and reported, the rest complete', async () => {
    const { jobId, devices } = await services.handlers['courier.visit']({ site: 'north', parallel: 2 });
    expect(devices).toBe(5);
    const record = await services.jobs.whenFinished(jobId);
    // One device could not be pulled: the job does not say "done", and says which and why.
    expect(record.state).toBe('failed');
    expect(record.error?.message).toMatch(/1 of 5 devices could not be pulled: north-05 \(.*connection refused/);
    expect(record.error?.hint).toMatch(/powered|network/);
    const result = SiteVisitResultSchema.parse(record.result);
    const byName = new Map(result.devices.map((d) => [d.name, d]));
    const unreachable = byName.get('north-05');
    expect(unreachable).toMatchObject({ status: 'failed', attempts: 3, retries: 2, pull: null });
    expect(unreachable?.error?.code).toBe('UNAVAILABLE');
    expect(record.log.filter((l) => l.level === 'warn' && /^north-05: .*trying again/.test(l.message))).toHaveLength(2);

    for (const agent of agents) {
      expect(byName.get(agent.deviceId)).toMatchObject({ status: 'done', attempts: 2, retries: 0, safetyRecords: safetyPerDevice });
      expect(byName.get(agent.deviceId)?.pull?.journals[0]).toMatchObject({ pulled: perDevice, new_records: perDevice, contiguous_seq: perDevice });
      expect(store('SELECT count(*) AS n, count(DISTINCT seq) AS d, min(seq) AS lo, max(seq) AS hi FROM courier_records WHERE device_id = ?', agent.deviceId)).toEqual({ n: perDevice, d: perDevice, lo: 1, hi: perDevice });
      expect(custodyOf(agent)).toBe(perDevice);
    }
    expect(byName.has('south-01')).toBe(false);

    // Seen from the agents: never more than two sessions at once, and two did run together.
    expect(maxConcurrentSessions()).toEqual({ max: 2, sessions: 8 });
    expect(result.maxInFlight).toBe(2);

    // Every safety event of every device was stored before the first bulk record of any device.
    const order = store(
      `SELECT (SELECT max(pulled_ms) FROM courier_records WHERE priority = 1) AS lastSafety, (SELECT min(pulled_ms) FROM courier_records WHERE priority > 1) AS firstBulk, (SELECT count(*) FROM courier_records WHERE priority = 1) AS safety`,
    );
    expect(order.safety).toBe(safetyPerDevice * agents.length);
    expect(order.lastSafety).toBeLessThan(order.firstBulk ?? 0);
    expect(result.bulkStartedMs).not.toBeNull();
    expect(order.lastSafety).toBeLessThanOrEqual(result.bulkStartedMs ?? 0);
  });

  it('cancelled mid-visit keeps what it stored with its custody, and the next visit completes it: nothing lost, nothing twice', async () => {
    const more = 40_000;
    for (const agent of agents) ingestWithAgentCli(launcher(agent), syntheticEvents(more));
    const total = perDevice + more;
    const { jobId } = await services.handlers['courier.visit']({ ids: (await services.handlers['devices.list']({})).devices.filter((d) => d.name.startsWith('north-0') && d.name !== 'north-05').map((d) => d.id), parallel: 2 });
    // Cancel once some device is carrying bulk records.
    await new Promise<void>((resolve) => {
      const unsubscribe = services.events.subscribe((name, payload) => {
        const event = payload as JobEvent;
        if (name !== 'job.event' || event.jobId !== jobId || event.type !== 'progress') return;
        if (event.progress.visit?.devices.some((d) => d.state === 'bulk' && d.records > 2 * safetyPerDevice) !== true) return;
        unsubscribe();
        void services.jobs.cancel(jobId, 'technician left the site');
        resolve();
      });
    });
    const cancelled = await services.jobs.whenFinished(jobId);
    expect(cancelled.state).toBe('cancelled');
    const stopped = SiteVisitResultSchema.parse(cancelled.result);
    expect(stopped.devices.some((d) => d.status === 'cancelled')).toBe(true);

    for (const agent of agents) {
      const held = store(
        'SELECT count(*) AS n, count(DISTINCT seq) AS d, (SELECT contiguous_seq FROM courier_journals WHERE device_id = ?) AS through FROM courier_records WHERE device_id = ?',
        agent.deviceId,
        agent.deviceId,
      );
      expect(held.n).toBe(held.d);
      // The agent was told only of what the laptop holds: every seq through its custody is here.
      const custody = custodyOf(agent);
      expect(custody).toBeLessThanOrEqual(held.through ?? 0);
      expect(store('SELECT count(*) AS n FROM courier_records WHERE device_id = ? AND seq <= ?', agent.deviceId, custody).n).toBe(custody);
    }

    const { jobId: again } = await services.handlers['courier.visit']({ site: 'north', parallel: 4 });
    const finished = await services.jobs.whenFinished(again);
    const result = SiteVisitResultSchema.parse(finished.result);
    for (const agent of agents) {
      expect(result.devices.find((d) => d.name === agent.deviceId)?.status).toBe('done');
      expect(store('SELECT count(*) AS n, count(DISTINCT seq) AS d, min(seq) AS lo, max(seq) AS hi FROM courier_records WHERE device_id = ?', agent.deviceId)).toEqual({ n: total, d: total, lo: 1, hi: total });
      expect(custodyOf(agent)).toBe(total);
    }
    // 160,000 more records ingested and carried in two visits: about 1.5x the CLI test's
    // work below. The default 60 s held on an idle machine only; under CI-like load it ran
    // 90 s (on main as on this branch), still completing, so the bound matches the work.
  }, 180_000);

  it('from the CLI: per-device lines, Ctrl-C cancels cleanly, --json events end with the per-device result', async () => {
    const env = { FIELDKIT_DATA_DIR: join(dir.path, 'data') };
    expect((await runCliProcess(['pull'], env)).code).toBe(2);
    expect((await runCliProcess(['pull', 'north-01', '--site', 'north'], env)).code).toBe(2);
    const more = 30_000;
    for (const agent of agents) ingestWithAgentCli(launcher(agent), syntheticEvents(more));
    const total = perDevice + 40_000 + more;

    const child = startCliProcess(['pull', '--site', 'north', '--parallel', '2'], env);
    let stderr = '';
    let stdout = '';
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
    const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
    await waitFor(() => /north-0\d: [\d,]+ safety events carried/.test(stderr), { timeoutMs: 30_000, what: 'a device line saying its safety events were carried' });
    child.kill('SIGINT');
    expect(await closed).toBe(130);
    expect(stderr).toMatch(/Pulling 5 devices, 2 at a time/);
    expect(stderr).toMatch(/Cancelling/);
    expect(stderr).toMatch(/Cancelled: what was stored stays/);
    expect(stdout).toMatch(/^DEVICE\s+STATUS\s+RECORDS/m);
    expect(stdout).toMatch(/cancelled/);

    const run = await runCliProcess(['--json', 'pull', '--all', '--parallel', '3'], env);
    expect(run.code, run.stderr).toBe(1);
    const events = run.stdout.trim().split('\n').map((line) => JSON.parse(line) as JobEvent);
    const last = events.at(-1);
    expect(last?.type).toBe('failed');
    const result = SiteVisitResultSchema.parse(last?.type === 'failed' ? last.result : null);
    expect(result.maxInFlight).toBeLessThanOrEqual(3);
    expect(result.devices.filter((d) => d.status === 'failed').map((d) => d.name).sort()).toEqual(['north-05', 'south-01']);
    expect(events.some((e) => e.type === 'log' && /^north-05: .*trying again/.test(e.message))).toBe(true);
    for (const agent of agents) {
      expect(result.devices.find((d) => d.name === agent.deviceId)?.status).toBe('done');
      expect(store('SELECT count(*) AS n, count(DISTINCT seq) AS d FROM courier_records WHERE device_id = ?', agent.deviceId)).toEqual({ n: total, d: total });
      expect(custodyOf(agent)).toBe(total);
    }
  }, 120_000);

  it('refuses a site with no devices, naming the sites it knows', async () => {
    await expect(services.handlers['courier.visit']({ site: 'west', parallel: 4 })).rejects.toThrow(/No device on this laptop is at site "west"/);
  });
});
