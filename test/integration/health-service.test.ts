/**
 * The health service against real agents: `fieldkit-agent rpc` from source over the Local
 * link, reading copies of the Pi 5 fixture /sys tree, through the app's own services and
 * event bus (what every carrier forwards). Latency, alerts from a changed sysfs file,
 * staleness and reconnection when an agent dies and comes back, leases, thresholds.
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SEEN_WRITE_MS } from '../../electron/health/healthService.ts';
import { openHealthHistoryWriter } from '../../agent/health/healthHistory.ts';
import { dispatch } from '../../electron/kernel/api/dispatch.ts';
import { createAppServices, type AppServices } from '../../electron/app/appServices.ts';
import type { EventPayloadOf } from '../../shared/api.ts';
import type { DeviceHealthView } from '../../shared/fleetHealth.ts';
import { defaultHealthThresholds, DeviceHealthViewSchema } from '../../shared/fleetHealth.ts';
import { HealthSampleSchema } from '../../shared/health.ts';
import { freePort } from '../../electron/kernel/net/freePort.ts';
import { startAgentDaemon, type AgentDaemon } from '../support/agentDaemonProcess.ts';
import { agentRpcArgs, createAgentRpcRig, type AgentRpcRig } from '../support/agentRpcFixture.ts';
import { nextHealthView, type HealthViewSeen } from '../support/healthViews.ts';
import { makeTempDir } from '../support/tempDir.ts';

type Changed = EventPayloadOf<'health.changed'> & { atMs: number };

function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

/**
 * A device whose RPC can be killed and kept down: the command refuses while `down` exists
 * and leaves its pid behind. Its daemon runs beside it (a sample says whether it does: no
 * daemon, no OK).
 */
type TestAgent = { rig: AgentRpcRig; daemon: AgentDaemon; pidFile: string; downFile: string; tempFile: string; command: string; ref: string };

async function testAgent(deviceId: string): Promise<Omit<TestAgent, 'ref'>> {
  const port = await freePort();
  const rig = createAgentRpcRig({ device_id: deviceId, ingest: { port } });
  const daemon = await startAgentDaemon(rig.configPath, port);
  const pidFile = join(rig.dir, 'rpc.pid');
  const downFile = join(rig.dir, 'down');
  const [entry, ...args] = agentRpcArgs(rig.configPath);
  const command = `if [ -e ${shellQuote(downFile)} ]; then echo 'agent is down' >&2; exit 3; fi; echo $$ > ${shellQuote(pidFile)}; exec ${shellQuote(process.execPath)} ${[entry ?? '', ...args].map(shellQuote).join(' ')}`;
  return { rig, daemon, pidFile, downFile, tempFile: join(rig.dir, 'pi/sys/class/thermal/thermal_zone0/temp'), command };
}

const dir = makeTempDir('fieldkit-health-service-');
let services: AppServices;
const agents: TestAgent[] = [];
const changes: Changed[] = [];
/** Renews the all-devices lease every 3 s, as a screen does. */
const renewal: { timer: NodeJS.Timeout | undefined } = { timer: undefined };

/** Resolves with the first event (from now on) whose view of `ref` passes `test`. */
function nextView(ref: string, test: (v: DeviceHealthView) => boolean, timeoutMs: number): Promise<HealthViewSeen> {
  return nextHealthView(services, ref, test, timeoutMs);
}

beforeAll(async () => {
  services = await createAppServices({ dataDir: join(dir.path, 'data'), version: 'test', healthLingerMs: 2000 });
  services.events.subscribe((name, payload) => {
    if (name === 'health.changed') changes.push({ ...(payload as EventPayloadOf<'health.changed'>), atMs: Date.now() });
  });
  for (const name of ['pi-a', 'pi-b']) {
    const agent = await testAgent(name);
    const { device } = await services.handlers['devices.add']({ name, site: 'depot', link: { kind: 'local', agentCommand: agent.command } });
    agents.push({ ...agent, ref: device.id });
  }
});

afterAll(async () => {
  clearInterval(renewal.timer);
  await services.close();
  for (const a of agents) {
    if (existsSync(a.pidFile)) {
      try {
        process.kill(Number(readFileSync(a.pidFile, 'utf8')), 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    a.daemon.child.kill('SIGKILL');
    a.rig.remove();
  }
  dir.remove();
});

describe('health service with real agents', () => {
  it('streams every sample of every watched device to the event bus within 1.5 s', async () => {
    const [a, b] = agents;
    if (!a || !b) throw new Error('agents missing');
    const watched = await dispatch(services.handlers, 'health.watch', {});
    renewal.timer = setInterval(() => {
      void services.handlers['health.watch']({ leaseSeconds: 15 });
    }, 3000);
    expect(watched.ok && (watched.value as { watching: string[] }).watching.sort()).toEqual([a.ref, b.ref].sort());
    await Promise.all([nextView(a.ref, (v) => v.status === 'ok', 15_000), nextView(b.ref, (v) => v.status === 'ok', 15_000)]);
    const from = changes.length;
    // A rate over time is the point: four seconds of the stream, then count and time what came.
    await new Promise((resolve) => setTimeout(resolve, 4000));
    const seen = changes.slice(from).flatMap((c) => c.samples.map((s) => ({ ...s, atMs: c.atMs })));
    for (const agent of [a, b]) {
      const mine = seen.filter((s) => s.deviceId === agent.ref);
      // One a second each; the agent's clock is this computer's, so the delay is measured directly.
      expect(mine.length).toBeGreaterThanOrEqual(3);
      for (const s of mine) {
        HealthSampleSchema.parse(s.sample);
        expect(s.atMs - s.sample.at_ms).toBeLessThanOrEqual(1500);
      }
      expect(mine[0]?.sample.device_id).toBe(agent.ref === a.ref ? 'pi-a' : 'pi-b');
    }
    const delays = seen.map((s) => s.atMs - s.sample.at_ms);
    console.log(`sample → event: max ${String(Math.max(...delays))} ms, mean ${String(Math.round(delays.reduce((x, y) => x + y, 0) / delays.length))} ms over ${String(delays.length)} samples`);
    // At most 4 events a second in all.
    const window = changes.slice(from);
    for (let i = 4; i < window.length; i++) expect((window[i]?.atMs ?? 0) - (window[i - 4]?.atMs ?? 0)).toBeGreaterThanOrEqual(990);

    const fleet = await services.handlers['health.fleet']({});
    expect(fleet.views.map((v) => DeviceHealthViewSchema.parse(v).status)).toEqual(['ok', 'ok']);
    expect(fleet.views[0]?.sample?.temp_c).toBeCloseTo(52.35, 2);
    const page = await services.handlers['health.device']({ deviceId: a.ref });
    expect(page.recent.length).toBeGreaterThanOrEqual(4);
    expect(page.recent.at(-1)).toEqual(page.view.sample);
    // One "last seen": Devices reads the device store, which the samples keep up to date.
    const { devices } = await services.handlers['devices.list']({});
    for (const view of fleet.views) {
      const seen = devices.find((d) => d.id === view.deviceId)?.lastSeenMs ?? null;
      if (seen === null || view.lastSampleMs === null) throw new Error(`${view.deviceName}: last seen ${String(seen)}, last sample ${String(view.lastSampleMs)}`);
      expect(view.lastSampleMs - seen).toBeGreaterThanOrEqual(0);
      expect(view.lastSampleMs - seen).toBeLessThanOrEqual(SEEN_WRITE_MS);
    }
  }, 40_000);

  it('turns a device critical with the alert text within 2 s of its thermal zone reading 86 °C', async () => {
    const a = agents[0];
    if (!a) throw new Error('agent missing');
    const written = Date.now();
    const critical = nextView(a.ref, (v) => v.status === 'critical', 5000);
    writeFileSync(a.tempFile, '86000\n');
    const { view, atMs } = await critical;
    console.log(`86 °C written → critical view: ${String(atMs - written)} ms`);
    expect(atMs - written).toBeLessThanOrEqual(2000);
    expect(view.sample?.temp_c).toBe(86);
    expect(view.alerts.map((x) => x.title)).toEqual(['86 °C — critical']);
    expect(view.alerts[0]?.action).toMatch(/fan/);
    // Worst first in the fleet.
    expect((await services.handlers['health.fleet']({})).views[0]?.deviceId).toBe(a.ref);
    writeFileSync(a.tempFile, '52350\n');
    await nextView(a.ref, (v) => v.status === 'ok', 5000);
  }, 20_000);

  it('marks a killed agent stale, says why, and reconnects by itself once it is back', async () => {
    const b = agents[1];
    if (!b) throw new Error('agent missing');
    const set = await dispatch(services.handlers, 'settings.health.set', { staleSeconds: 3 });
    expect(set.ok).toBe(true);
    writeFileSync(b.downFile, '');
    const killedAt = Date.now();
    process.kill(Number(readFileSync(b.pidFile, 'utf8')), 'SIGKILL');
    const { view, atMs } = await nextView(b.ref, (v) => v.status === 'stale', 10_000);
    expect(atMs - killedAt).toBeGreaterThanOrEqual(2500);
    expect(atMs - killedAt).toBeLessThanOrEqual(5000);
    expect(view.alerts.map((x) => x.code)).toContain('stale');
    expect(view.linkError).toMatch(/agent is down|did not answer|closed|exited|UNAVAILABLE/i);
    // The other device carries on.
    expect((await services.handlers['health.device']({ deviceId: agents[0]?.ref ?? '' })).view.status).toBe('ok');
    rmSync(b.downFile);
    const back = await nextView(b.ref, (v) => v.status === 'ok', 15_000);
    expect(back.view.linkError).toBeNull();
    await dispatch(services.handlers, 'settings.health.set', { staleSeconds: 10 });
  }, 40_000);

  it('keeps thresholds across a restart and refuses ones that make no sense', async () => {
    const warm = await dispatch(services.handlers, 'settings.health.set', { tempWarningC: 70, tempCriticalC: 78 });
    expect(warm.ok && warm.value).toEqual({ thresholds: { ...defaultHealthThresholds, tempWarningC: 70, tempCriticalC: 78 } });
    const inverted = await dispatch(services.handlers, 'settings.health.set', { tempWarningC: 90 });
    expect(!inverted.ok && inverted.error).toMatchObject({ code: 'BAD_REQUEST', field: 'tempWarningC' });
    expect(!inverted.ok && inverted.error.hint).toMatch(/Lower the warning/);
    const outOfRange = await dispatch(services.handlers, 'settings.health.set', { diskUsedPercent: 150 });
    expect(!outOfRange.ok && outOfRange.error).toMatchObject({ code: 'BAD_REQUEST', field: 'diskUsedPercent' });
    const unknownField = await dispatch(services.handlers, 'settings.health.set', { tempWarning: 70 });
    expect(unknownField.ok).toBe(false);

    const again = await createAppServices({ dataDir: join(dir.path, 'data'), version: 'test' });
    try {
      expect((await again.handlers['settings.health.get']({})).thresholds.tempWarningC).toBe(70);
    } finally {
      await again.close();
    }
    const reset = await dispatch(services.handlers, 'settings.health.set', { reset: true });
    expect(reset.ok && reset.value).toEqual({ thresholds: defaultHealthThresholds });
  }, 20_000);

  it('serves the health history that a pull carried home', async () => {
    const a = agents[0];
    if (!a) throw new Error('agent missing');
    const before = await services.handlers['health.history']({ deviceId: a.ref });
    expect(before).toEqual({ deviceId: a.ref, minutes: [], events: [], pulledAtMs: null });
    // What the agent's daemon records: minutes and a brown-out.
    const writer = openHealthHistoryWriter(join(a.rig.config.data_dir, 'health.db'));
    // An hour ago: inside the daemon's retention (it prunes older minutes on its own tick, so
    // an old date could vanish before the pull) and before it started writing its own minutes.
    const t0 = Math.floor((Date.now() - 3_600_000) / 60_000) * 60_000;
    const minute = { cpu_pct_avg: 12.5, temp_c_max: 61, mem_available_min_bytes: 5e9, disk_free_min_bytes: 20e9, throttled_raw_or: 0x50005, backlog_records_max: 40, inference_p95_ms: 33 };
    writer.writeMinute({ minute_ms: t0, ...minute });
    writer.writeMinute({ minute_ms: t0 + 60_000, ...minute, throttled_raw_or: 0x50000 });
    writer.addEvent({ at_ms: t0 + 61_000, kind: 'under_voltage', detail: 'under-voltage now' });
    writer.close();
    const { jobId } = await services.handlers['courier.pull']({ id: a.ref });
    const job = await services.jobs.whenFinished(jobId);
    expect(job.state).toBe('done');
    const history = await services.handlers['health.history']({ deviceId: a.ref });
    // The running daemon records its own minutes and events beside the ones written here.
    const written = (m: { minute_ms: number }) => m.minute_ms <= t0 + 60_000;
    expect(history.minutes.filter(written).map((m) => [m.minute_ms, m.throttled_raw_or])).toEqual([
      [t0, 0x50005],
      [t0 + 60_000, 0x50000],
    ]);
    expect(history.events.filter((e) => e.kind !== 'agent_start' && e.kind !== 'temp_high')).toEqual([{ at_ms: t0 + 61_000, kind: 'under_voltage', detail: 'under-voltage now' }]);
    expect(history.pulledAtMs).toBeGreaterThan(Date.now() - 60_000);
    expect((await services.handlers['health.history']({ deviceId: a.ref, sinceMs: t0 + 30_000 })).minutes.filter(written)).toHaveLength(1);
    const unknown = await dispatch(services.handlers, 'health.history', { deviceId: 'dev_nosuchdevice' });
    expect(!unknown.ok && unknown.error.code).toBe('NOT_FOUND');
  }, 30_000);
});

describe('health leases', () => {
  function alive(pidFile: string): boolean {
    try {
      process.kill(Number(readFileSync(pidFile, 'utf8')), 0);
      return true;
    } catch {
      return false;
    }
  }

  it('follows a device while a lease lives and closes its link once the lease and the linger are over', async () => {
    const [a, b] = agents;
    if (!a || !b) throw new Error('agents missing');
    clearInterval(renewal.timer);
    // Only pi-a from now on, for 2 s; the lease on all devices ends too.
    const watched = await services.handlers['health.watch']({ deviceIds: [a.ref], leaseSeconds: 2 });
    expect(watched.watching).toContain(a.ref);
    const refused = await dispatch(services.handlers, 'health.watch', { deviceIds: ['dev_nosuchdevice'] });
    expect(!refused.ok && refused.error.code).toBe('NOT_FOUND');
    // The earlier all-devices lease (15 s) plus the 2 s linger.
    await waitFor(() => !alive(b.pidFile), 25_000);
    expect(alive(a.pidFile)).toBe(false);
    const fleet = await services.handlers['health.fleet']({});
    expect(fleet.views).toHaveLength(2);
    // Watching again reconnects.
    await services.handlers['health.watch']({ deviceIds: [b.ref], leaseSeconds: 5 });
    await nextView(b.ref, (v) => v.status === 'ok' && v.lastSampleMs !== null && v.lastSampleMs > Date.now() - 1500, 15_000);
    expect((await services.handlers['health.watch']({ deviceIds: [b.ref], leaseSeconds: 5 })).watching).toEqual([b.ref]);
  }, 60_000);
});

async function waitFor(test: () => boolean, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!test()) {
    if (Date.now() > until) throw new Error(`still waiting after ${String(timeoutMs)} ms`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
