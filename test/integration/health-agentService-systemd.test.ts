/**
 * A dead agent is never shown healthy, on a real systemd Pi (the virtual site): the agent
 * deployed by the engine as a technician would, watched over SSH by the app's health
 * service — whose samples come from the `fieldkit-agent rpc` each connection starts, alive
 * whatever the service does. `systemctl stop`, a frozen daemon (`systemctl kill -s
 * SIGSTOP`) and a crash (SIGKILL, systemd restarting it) each turn the device critical
 * within 15 s with what to do; `fieldkit health` says the same.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppServices } from '../../electron/app/appServices.ts';
import type { DeviceHealthView } from '../../shared/fleetHealth.ts';
import { onPi } from '../support/deployRig.ts';
import { nextHealthView, watchHealthLikeAScreen, type HealthViewSeen } from '../support/healthViews.ts';
import { startRolloutSite, type RolloutSite } from '../support/rolloutSite.ts';
import { runCliProcess } from '../support/runCliProcess.ts';
import type { VirtualPi } from '../support/virtualSite.ts';

let rollout: RolloutSite;
let services: AppServices | null = null;
let pi: VirtualPi;
let ref: string;
let watch: { stop(): void } | undefined;

function open(): AppServices {
  if (services === null) throw new Error('services closed');
  return services;
}

/** The next view of the device that passes `test`, and how long it took. */
function nextView(test: (v: DeviceHealthView) => boolean, timeoutMs: number): Promise<HealthViewSeen> {
  return nextHealthView(open(), ref, test, timeoutMs);
}

const codes = (v: DeviceHealthView) => v.alerts.map((a) => a.code);

beforeAll(async () => {
  rollout = await startRolloutSite({ count: 1, name: 'hpi' });
  const first = rollout.site.pis[0];
  if (first === undefined) throw new Error('no Pi');
  pi = first;
  services = await rollout.open();
  const app = services;
  const device = (await app.handlers['devices.list']({})).devices[0];
  if (device === undefined) throw new Error('no device');
  ref = device.id;
  watch = await watchHealthLikeAScreen(app);
}, 240_000);

afterAll(async () => {
  watch?.stop();
  await services?.close();
  await rollout.stop();
});

describe('the agent service under systemd, watched over SSH', () => {
  it('is OK while the unit runs, and the sample carries what systemd says', async () => {
    const { view } = await nextView((v) => v.status === 'ok', 30_000);
    const mainPid = Number((await onPi(pi, 'systemctl show -p MainPID --value fieldkit-agent')).trim());
    expect(view.sample?.service).toMatchObject({ manager: 'systemd', state: 'running', detail: 'active/running', pid: mainPid, process_stopped: false, silent_s: 0, journal_writable: true });
  }, 40_000);

  it('`systemctl stop fieldkit-agent` turns the device critical within 15 s, saying how to start it', async () => {
    const critical = nextView((v) => v.status === 'critical', 15_000);
    await onPi(pi, 'sudo -n systemctl stop fieldkit-agent');
    const { view, afterMs } = await critical;
    console.log(`systemctl stop → critical: ${String(afterMs)} ms`);
    expect(codes(view)).toEqual(['agent-stopped']);
    expect(view.alerts[0]?.title).toBe('Agent service stopped');
    expect(view.alerts[0]?.explanation).toContain('inactive/dead');
    expect(view.alerts[0]?.action).toContain('sudo systemctl start fieldkit-agent');
    // The link and the RPC are fine: it is the service that is down.
    expect(view.linkError).toBeNull();
    const fleet = await open().handlers['health.fleet']({});
    expect(fleet.views[0]).toMatchObject({ deviceId: ref, status: 'critical' });
  }, 30_000);

  it('`fieldkit health` and `fieldkit health DEVICE` say the same', async () => {
    // The CLI opens the same data folder: the app's services let go of it first.
    watch?.stop();
    await services?.close();
    services = null;
    const env = { FIELDKIT_DATA_DIR: rollout.dataDir };
    const fleet = await runCliProcess(['health'], env);
    expect(fleet.code, fleet.stderr).toBe(0);
    expect(fleet.stdout).toMatch(new RegExp(`${pi.name}\\s+CRITICAL.*Agent service stopped`));
    const device = await runCliProcess(['health', pi.name, '--for', '3'], env);
    expect(device.code, device.stderr).toBe(0);
    expect(device.stdout).toMatch(/— CRITICAL/);
    expect(device.stdout).toMatch(/service\s+stopped \(systemd inactive\/dead\)/);
    expect(device.stdout).toMatch(/→ Start it on the Pi: `sudo systemctl start fieldkit-agent`/);
    services = await rollout.open();
    watch = await watchHealthLikeAScreen(services);
    const ok = nextView((v) => v.status === 'ok', 30_000);
    await onPi(pi, 'sudo -n systemctl start fieldkit-agent');
    await ok;
  }, 90_000);

  it('a frozen daemon (`systemctl kill -s SIGSTOP`) is critical within 15 s; resumed, it is OK', async () => {
    const critical = nextView((v) => v.status === 'critical', 15_000);
    await onPi(pi, 'sudo -n systemctl kill -s SIGSTOP fieldkit-agent');
    const { view, afterMs } = await critical;
    console.log(`SIGSTOP → critical: ${String(afterMs)} ms`);
    expect(codes(view)).toEqual(['agent-wedged']);
    expect(view.alerts[0]?.action).toMatch(/sudo kill -CONT \d+/);
    expect(await onPi(pi, 'systemctl is-active fieldkit-agent')).toBe('active\n');
    const ok = nextView((v) => v.status === 'ok', 20_000);
    await onPi(pi, 'sudo -n systemctl kill -s SIGCONT fieldkit-agent');
    await ok;
  }, 50_000);

  it('a crash (SIGKILL) is critical while systemd restarts it, then a warning once it runs again', async () => {
    const critical = nextView((v) => v.status === 'critical', 15_000);
    await onPi(pi, 'sudo -n systemctl kill -s SIGKILL fieldkit-agent');
    const { view, afterMs } = await critical;
    console.log(`SIGKILL → critical: ${String(afterMs)} ms`);
    expect(codes(view)).toEqual(['agent-crash-loop']);
    expect(view.alerts[0]?.title).toBe('Agent crashed, restarting');
    expect(view.alerts[0]?.explanation).toContain('activating/auto-restart');
    // RestartSec=5s: running again, the crash stays visible as a warning.
    const { view: after } = await nextView((v) => v.status === 'warning', 20_000);
    expect(codes(after)).toEqual(['agent-crash-loop']);
    expect(after.alerts[0]?.title).toBe('Agent restarted after a crash');
    expect(after.sample?.service?.restarts).toBe(1);
  }, 50_000);
});
