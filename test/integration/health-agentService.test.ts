/**
 * A dead agent is never shown healthy, where no systemd runs it (the demo site, a daemon
 * started by hand): the real daemon as a plain process, the real `fieldkit-agent rpc` over
 * the Local link, through the app's health service. The daemon frozen (SIGSTOP), killed
 * (kill -9), crashing again and again, or stopped cleanly: each turns the device critical
 * within 15 s, with what to do.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAppServices, type AppServices } from '../../electron/app/appServices.ts';
import { freePort } from '../../electron/kernel/net/freePort.ts';
import type { DeviceHealthView } from '../../shared/fleetHealth.ts';
import { startAgentDaemon, type AgentDaemon } from '../support/agentDaemonProcess.ts';
import { agentRpcArgs, createAgentRpcRig, type AgentRpcRig } from '../support/agentRpcFixture.ts';
import { nextHealthView, watchHealthLikeAScreen, type HealthViewSeen } from '../support/healthViews.ts';
import { makeTempDir } from '../support/tempDir.ts';

const dir = makeTempDir('fieldkit-health-agent-service-');
let services: AppServices;
let rig: AgentRpcRig;
let port: number;
let daemon: AgentDaemon;
let ref: string;
let watch: { stop(): void } | undefined;

function quote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

/** The next view of the device that passes `test`, and how long it took. */
function nextView(test: (v: DeviceHealthView) => boolean, timeoutMs: number): Promise<HealthViewSeen> {
  return nextHealthView(services, ref, test, timeoutMs);
}

const codes = (v: DeviceHealthView) => v.alerts.map((a) => a.code);

async function killDaemon(signal: NodeJS.Signals): Promise<void> {
  const exited = daemon.exited;
  daemon.child.kill(signal);
  await exited;
}

beforeAll(async () => {
  port = await freePort();
  rig = createAgentRpcRig({ device_id: 'pi-plain', ingest: { port } });
  daemon = await startAgentDaemon(rig.configPath, port);
  services = await createAppServices({ dataDir: join(dir.path, 'data'), version: 'test' });
  const command = [process.execPath, ...agentRpcArgs(rig.configPath)].map(quote).join(' ');
  ({ device: { id: ref } } = await services.handlers['devices.add']({ name: 'pi-plain', site: 'depot', link: { kind: 'local', agentCommand: command } }));
  watch = await watchHealthLikeAScreen(services);
}, 30_000);

afterAll(async () => {
  watch?.stop();
  await services.close();
  daemon.child.kill('SIGKILL');
  rig.remove();
  dir.remove();
});

describe('the agent service without systemd', () => {
  it('is OK while its daemon runs and answers, and the sample says so', async () => {
    const { view } = await nextView((v) => v.status === 'ok', 15_000);
    expect(view.sample?.service).toMatchObject({ manager: 'process', state: 'running', pid: daemon.child.pid, process_stopped: false, silent_s: 0, recent_crashes: 0, journal_writable: true });
  }, 20_000);

  it('a frozen daemon (SIGSTOP) is critical within 15 s; resumed, it is OK again', async () => {
    const critical = nextView((v) => v.status === 'critical', 15_000);
    daemon.child.kill('SIGSTOP');
    const { view, afterMs } = await critical;
    console.log(`SIGSTOP → critical: ${String(afterMs)} ms`);
    expect(codes(view)).toEqual(['agent-wedged']);
    expect(view.alerts[0]?.title).toBe('Agent frozen (process stopped)');
    expect(view.alerts[0]?.action).toContain(`kill -CONT ${String(daemon.child.pid)}`);
    const ok = nextView((v) => v.status === 'ok', 15_000);
    daemon.child.kill('SIGCONT');
    await ok;
  }, 40_000);

  it('a daemon killed with kill -9 is critical within 15 s, saying it died; started again, it is a warning for a while', async () => {
    const critical = nextView((v) => v.status === 'critical', 15_000);
    await killDaemon('SIGKILL');
    const { view, afterMs } = await critical;
    console.log(`kill -9 → critical: ${String(afterMs)} ms`);
    expect(codes(view)).toEqual(['agent-stopped']);
    expect(view.alerts[0]?.title).toBe('Agent service died');
    expect(view.alerts[0]?.explanation).toMatch(/is gone without a clean stop.*crashed or was killed/);
    expect(view.sample?.service?.state).toBe('failed');
    // The RPC the laptop talks to is alive all along: only the daemon is gone.
    expect(view.linkError).toBeNull();

    const recovered = nextView((v) => v.status === 'warning', 15_000);
    daemon = await startAgentDaemon(rig.configPath, port);
    const warning = (await recovered).view;
    expect(codes(warning)).toEqual(['agent-crash-loop']);
    expect(warning.alerts[0]?.title).toBe('Agent restarted after a crash');
  }, 40_000);

  it('three crashes within ten minutes are a crash loop, critical even while it runs', async () => {
    for (let i = 0; i < 2; i++) {
      await killDaemon('SIGKILL');
      daemon = await startAgentDaemon(rig.configPath, port);
    }
    const { view } = await nextView((v) => v.status === 'critical' && v.sample?.service?.state === 'running', 15_000);
    expect(codes(view)).toEqual(['agent-crash-loop']);
    expect(view.alerts[0]?.title).toBe('Agent crash-looping (3 crashes in 10 min)');
    expect(view.alerts[0]?.action).toMatch(/redeploy/);
  }, 60_000);

  it('a daemon stopped cleanly is critical within 15 s and says how to start it', async () => {
    const critical = nextView((v) => v.status === 'critical' && codes(v).includes('agent-stopped'), 15_000);
    await killDaemon('SIGTERM');
    const { view, afterMs } = await critical;
    console.log(`SIGTERM → critical: ${String(afterMs)} ms`);
    expect(view.alerts[0]?.title).toBe('Agent service stopped');
    expect(view.alerts[0]?.explanation).toMatch(/stopped cleanly at \d\d:\d\d:\d\d UTC/);
    expect(view.alerts[0]?.action).toMatch(/fieldkit-agent run/);
    const fleet = await services.handlers['health.fleet']({});
    expect(fleet.views[0]?.status).toBe('critical');
  }, 30_000);
});
