/**
 * The device-side guard on real systemd Pis: a crashing release whose laptop goes away
 * right after the restart is put back on the old release by the Pi itself (a transient
 * systemd timer armed before the switch), and the engine says when that will happen; a
 * healthy deploy disarms the guard (nothing reverts later); a cancel in the middle of the
 * gates finishes the rollback instead of leaving the device between releases.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployedAgentRpcCommand } from '../../electron/deploy/agentGates.ts';
import { deployBundle, type DeployResult } from '../../electron/deploy/deployBundle.ts';
import { openAgentSession } from '../../electron/devices/deviceConnection.ts';
import { freePort } from '../../electron/kernel/net/freePort.ts';
import type { TranscriptEntry } from '../../shared/deploy.ts';
import { buildAgentBundles, linkTo, onPi, type AgentBundles } from '../support/deployRig.ts';
import { makeTempDir } from '../support/tempDir.ts';
import { startVirtualSite, type VirtualPi, type VirtualSite } from '../support/virtualSite.ts';

const dir = makeTempDir('fieldkit-deploy-guard-');
let bundles: AgentBundles;
let site: VirtualSite;
const ports = new Map<VirtualPi, number>();
const paths = { prefix: '/opt/fieldkit-agent', configPath: '/etc/fieldkit-agent/config.json', unit: 'fieldkit-agent.service', serviceUser: 'fieldkit-agent' };
const guardSeconds = 20;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function pi(i: number): VirtualPi {
  const found = site.pis[i];
  if (found === undefined) throw new Error(`no Pi ${String(i)}`);
  return found;
}

async function deploy(target: VirtualPi, archive: string, options: { onTranscript?: (entry: TranscriptEntry, close: () => Promise<void>) => void; signal?: AbortSignal } = {}): Promise<DeployResult> {
  const link = await linkTo(target);
  const close = () => link.close().catch(() => undefined);
  try {
    return await deployBundle({
      link,
      bundle: { path: archive, trustedKeys: bundles.trustedKeys },
      stableSeconds: 2,
      guardSeconds,
      agentConfig: { device_id: target.name, ingest: { port: ports.get(target) ?? 0 }, health: { vcgencmd: null, nvme: null } },
      ...(options.onTranscript ? { onTranscript: (entry: TranscriptEntry) => options.onTranscript?.(entry, close) } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
  } finally {
    await close();
  }
}

async function helloVersion(target: VirtualPi): Promise<string> {
  const link = await linkTo(target);
  try {
    const session = await openAgentSession(link, deployedAgentRpcCommand(paths));
    await session.close();
    return session.hello.agent_version;
  } finally {
    await link.close();
  }
}

function explain(result: DeployResult): string {
  return `${result.status}: ${result.error?.message ?? ''}\n${result.transcript.map((t) => `[${t.step}] ${t.command.slice(0, 160)} → ${String(t.exitCode)} ${t.output.slice(-300)}`).join('\n')}`;
}

async function current(target: VirtualPi): Promise<string> {
  return (await onPi(target, 'readlink /opt/fieldkit-agent/current')).trim();
}

beforeAll(async () => {
  [bundles, site] = await Promise.all([buildAgentBundles(dir.path), startVirtualSite({ count: 3, name: 'gpi' })]);
  for (const p of site.pis) ports.set(p, await freePort());
  const installed = await Promise.all(site.pis.map((p) => deploy(p, bundles.base.archive)));
  for (const result of installed) expect(result.status, explain(result)).toBe('updated');
}, 120_000);

afterAll(async () => {
  await site.stop();
  dir.remove();
});

describe('the device-side guard', () => {
  it.concurrent('puts a crashing release back by itself when the laptop goes away right after the restart', async () => {
    const target = pi(0);
    const crashing = await bundles.variant('0.7.0-crash', { crash: true });
    let switchedAt = 0;
    const result = await deploy(target, crashing, {
      onTranscript: (entry, close) => {
        if (entry.step === 'switch' && entry.command.startsWith('sudo -n sh -c') && entry.command.includes('.current.tmp')) switchedAt = Date.now();
        // The laptop vanishes the moment the restart returns: no gate, no rollback from here.
        if (entry.step === 'restart' && entry.command.includes('systemctl restart')) void close();
      },
    });
    expect(result.status, explain(result)).toBe('failed');
    expect(result.error?.code).toBe('UNAVAILABLE');
    expect(result.error?.message).toMatch(new RegExp(`will return to ${bundles.base.version.replaceAll('.', '\\.')} by itself at \\d\\d:\\d\\d:\\d\\d`));
    expect(result.transcript.some((t) => t.step === 'gate')).toBe(false);
    expect(switchedAt).toBeGreaterThan(0);
    expect(await current(target)).toBe('releases/0.7.0-crash');

    // Nobody touches the Pi: within the guard's window (+ slack) it is back on the old release.
    let back = 0;
    while (Date.now() - switchedAt < (guardSeconds + 25) * 1000) {
      if ((await current(target)) === `releases/${bundles.base.version}` && (await onPi(target, 'systemctl is-active fieldkit-agent || true')).trim() === 'active') {
        back = Date.now();
        break;
      }
      await sleep(1000); // a poll interval; the deadline is the loop's condition
    }
    expect(back, 'the Pi never went back by itself').toBeGreaterThan(0);
    console.log(`guard: back on ${bundles.base.version} ${((back - switchedAt) / 1000).toFixed(1)} s after the switch (window ${String(guardSeconds)} s)`);
    expect(back - switchedAt).toBeGreaterThanOrEqual((guardSeconds - 2) * 1000);
    expect(await helloVersion(target)).toBe(bundles.base.version);
    expect(await onPi(target, 'sudo -n cat /opt/fieldkit-agent/guard/state')).toMatch(new RegExp(`^fired \\w+ .* returned to ${bundles.base.version.replaceAll('.', '\\.')}`));
    expect(await onPi(target, 'sudo -n journalctl -u fieldkit-agent-guard --no-pager -o cat')).toContain('0.7.0-crash was not confirmed healthy within 20 s of the switch');
    // The unit file is the old release's again (its description names the bundle version).
    expect(await onPi(target, 'cat /etc/systemd/system/fieldkit-agent.service')).not.toContain('0.7.0-crash');
  }, 90_000);

  it.concurrent('a healthy deploy disarms the guard: nothing reverts after its window', async () => {
    const target = pi(1);
    const good = await bundles.variant('0.7.1');
    const result = await deploy(target, good);
    expect(result.status, explain(result)).toBe('updated');
    const done = Date.now();
    expect(result.transcript.map((t) => t.command)).toContain('disarm fieldkit-agent-guard');
    expect(await onPi(target, 'sudo -n cat /opt/fieldkit-agent/guard/state')).toMatch(/^disarmed /);
    expect((await onPi(target, 'systemctl is-active fieldkit-agent-guard.timer || true')).trim()).toBe('inactive');
    const pid = await onPi(target, 'systemctl show -p MainPID --value fieldkit-agent');
    const armed = result.transcript.find((t) => t.command.startsWith('arm fieldkit-agent-guard'));
    if (armed === undefined) throw new Error(explain(result));
    // The point: the guard's whole window (and some) passes, and the disarmed guard does nothing.
    await sleep(Math.max(0, armed.at + (guardSeconds + 3) * 1000 - Date.now()));
    expect(Date.now() - done).toBeGreaterThan(0);
    expect(await current(target)).toBe('releases/0.7.1');
    expect(await onPi(target, 'systemctl show -p MainPID --value fieldkit-agent')).toBe(pid);
    expect(await helloVersion(target)).toBe('0.7.1');
  }, 90_000);

  it.concurrent('a cancel in the middle of the gates finishes the rollback: the old release runs, the guard disarmed', async () => {
    const target = pi(2);
    const good = await bundles.variant('0.7.2');
    const controller = new AbortController();
    const result = await deploy(target, good, {
      signal: controller.signal,
      onTranscript: (entry) => {
        if (entry.step === 'gate' && !controller.signal.aborted) controller.abort('cancelled by the test');
      },
    });
    expect(result.status, explain(result)).toBe('rolled-back');
    expect(result.error?.code).toBe('CANCELLED');
    expect(result.error?.message).toContain(`${bundles.base.version} was restored and is healthy`);
    expect(result.transcript.filter((t) => t.step === 'rollback' && t.command.includes('systemctl restart')).map((t) => t.exitCode)).toEqual([0]);
    expect(await current(target)).toBe(`releases/${bundles.base.version}`);
    expect(await helloVersion(target)).toBe(bundles.base.version);
    expect(await onPi(target, 'sudo -n cat /opt/fieldkit-agent/guard/state')).toMatch(/^disarmed /);
  }, 90_000);
});
