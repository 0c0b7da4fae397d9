/**
 * The agent deploy engine against real systemd Pis (the virtual site): three Pis at once,
 * each ends healthy on the new version and answers hello; an upgrade sends only the files
 * that changed (the Node runtime crosses once); deploying the installed version again
 * changes nothing; the journal written before an upgrade is still there after it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployedAgentRpcCommand } from '../../electron/deploy/agentGates.ts';
import { deployBundle, type DeployResult } from '../../electron/deploy/deployBundle.ts';
import { agentRpcCommand, openAgentSession } from '../../electron/devices/deviceConnection.ts';
import { DeviceSchema } from '../../shared/devices.ts';
import type { Link } from '../../electron/kernel/link/linkApi.ts';
import { buildAgentBundles, linkTo, onPi, type AgentBundles } from '../support/deployRig.ts';
import { makeTempDir } from '../support/tempDir.ts';
import { startVirtualSite, type VirtualSite } from '../support/virtualSite.ts';
import { freePort } from '../../electron/kernel/net/freePort.ts';

const dir = makeTempDir('fieldkit-deploy-agent-');
let bundles: AgentBundles;
let site: VirtualSite;
let links: Link[] = [];
const ports: number[] = [];
const paths = { prefix: '/opt/fieldkit-agent', configPath: '/etc/fieldkit-agent/config.json', unit: 'fieldkit-agent.service', serviceUser: 'fieldkit-agent' };

beforeAll(async () => {
  [bundles, site] = await Promise.all([buildAgentBundles(dir.path), startVirtualSite({ count: 3, name: 'dpi' })]);
  links = await Promise.all(site.pis.map((pi) => linkTo(pi)));
  for (let i = 0; i < site.pis.length; i++) ports.push(await freePort());
}, 120_000);

afterAll(async () => {
  await Promise.all(links.map((link) => link.close()));
  await site.stop();
  dir.remove();
});

function deploy(i: number, archive: string): Promise<DeployResult> {
  const link = links[i];
  if (link === undefined) throw new Error(`no link ${String(i)}`);
  return deployBundle({
    link,
    bundle: { path: archive, trustedKeys: bundles.trustedKeys },
    stableSeconds: 2,
    agentConfig: { device_id: `dpi-${String(i + 1)}`, site: 'deploy-test', ingest: { port: ports[i] ?? 0 }, health: { vcgencmd: null, nvme: null } },
  });
}

async function hello(i: number): Promise<string> {
  const session = await openAgentSession(links[i] as Link, deployedAgentRpcCommand(paths));
  await session.close();
  return session.hello.agent_version;
}

function explain(result: DeployResult): string {
  return `${result.status}: ${result.error?.message ?? ''}\n${result.transcript.map((t) => `[${t.step}] ${t.command.slice(0, 200)} → ${String(t.exitCode)} ${t.output.slice(-600)}`).join('\n')}\n${result.unitLog.join('\n')}`;
}

describe('deploying the agent to virtual Pis', () => {
  let first: DeployResult[] = [];

  it('deploys to three Pis in parallel: each healthy on the new version, answering hello', async () => {
    const started = performance.now();
    first = await Promise.all(site.pis.map((_, i) => deploy(i, bundles.base.archive)));
    const elapsed = performance.now() - started;
    for (const result of first) expect(result.status, explain(result)).toBe('updated');
    expect(first.map((r) => [r.fromVersion, r.toVersion])).toEqual(site.pis.map(() => [null, bundles.base.version]));
    expect(await Promise.all(site.pis.map((_, i) => hello(i)))).toEqual(site.pis.map(() => bundles.base.version));
    // The command Devices and the courier use reaches the deployed agent too (as its service user).
    const device = DeviceSchema.parse({ id: 'dev_dpi001', name: 'dpi-1', site: 'deploy-test', link: { kind: 'ssh', host: '127.0.0.1' }, hostKeyFingerprint: null, agentDeviceId: null, journalId: null, agentVersion: null, modelVersion: null, clockOffsetMs: null, lastSeenMs: null, lastError: null, addedMs: 0 });
    const session = await openAgentSession(links[0] as Link, agentRpcCommand(device));
    await session.close();
    expect(session.hello).toMatchObject({ agent_version: bundles.base.version, device_id: 'dpi-1', hostname: 'dpi-1' });
    for (const pi of site.pis) {
      expect((await onPi(pi, 'readlink /opt/fieldkit-agent/current; systemctl is-active fieldkit-agent; systemctl is-enabled fieldkit-agent')).trim().split('\n')).toEqual([`releases/${bundles.base.version}`, 'active', 'enabled']);
    }
    // Every command is transcribed with its exit code; root work goes through sudo -n.
    const transcript = first[0]?.transcript ?? [];
    expect(transcript.map((t) => t.step)).toEqual(expect.arrayContaining(['verify', 'preflight', 'upload', 'install', 'switch', 'restart', 'gate']));
    expect(transcript.filter((t) => t.command.startsWith('sudo ')).every((t) => t.command.startsWith('sudo -n '))).toBe(true);
    console.log(`deploy to 3 Pis in parallel: ${(elapsed / 1000).toFixed(1)} s; bytes sent to each: ${first.map((r) => r.bytesSent).join(', ')}; per Pi ${first.map((r) => `${(((r.endedAt ?? 0) - (r.startedAt ?? 0)) / 1000).toFixed(1)} s`).join(', ')}`);
  }, 90_000);

  it('upgrades to a new version sending only the changed files, keeps the journal, and redeploying it changes nothing', async () => {
    const pi = site.pis[0];
    if (pi === undefined) throw new Error('no Pi');
    // Events in the journal before the upgrade.
    await onPi(pi, `printf '%s\\n' '{"priority":1,"kind":"safety","payload":{"before":"upgrade"}}' | sudo -n -u fieldkit-agent /opt/fieldkit-agent/current/bin/fieldkit-agent --config /etc/fieldkit-agent/config.json ingest`);
    const journalId = (await onPi(pi, 'sudo -n -u fieldkit-agent /opt/fieldkit-agent/current/bin/fieldkit-agent --config /etc/fieldkit-agent/config.json status --json')).match(/"journal_id":"([^"]+)"/)?.[1];
    const config = await onPi(pi, 'sudo -n cat /etc/fieldkit-agent/config.json');

    const v2 = await bundles.variant('0.2.0-test');
    const started = performance.now();
    const upgrade = await deploy(0, v2);
    const upgradeMs = performance.now() - started;
    expect(upgrade.status, explain(upgrade)).toBe('updated');
    expect([upgrade.fromVersion, upgrade.toVersion]).toEqual([bundles.base.version, '0.2.0-test']);
    expect(await hello(0)).toBe('0.2.0-test');
    // Only agent.mjs and the unit changed: a few MB, not the 120 MB runtime.
    const firstBytes = first[0]?.bytesSent ?? 0;
    expect(firstBytes).toBeGreaterThan(100 * 1024 * 1024);
    expect(upgrade.bytesSent).toBeLessThan(4 * 1024 * 1024);
    expect(upgrade.bytesSent).toBeGreaterThan(0);
    console.log(`upgrade of one Pi: ${(upgradeMs / 1000).toFixed(1)} s; bytes sent first ${String(firstBytes)}, upgrade ${String(upgrade.bytesSent)}`);

    // The journal and config outlived the upgrade.
    const exported = await onPi(pi, 'sudo -n -u fieldkit-agent /opt/fieldkit-agent/current/bin/fieldkit-agent --config /etc/fieldkit-agent/config.json export');
    const records = exported.trim().split('\n').map((line) => JSON.parse(line) as { journal_id: string; kind: string; payload: string });
    expect(records.filter((r) => r.kind === 'safety').map((r) => JSON.parse(r.payload) as unknown)).toEqual([{ before: 'upgrade' }]);
    expect(new Set(records.map((r) => r.journal_id))).toEqual(new Set([journalId]));
    expect(await onPi(pi, 'sudo -n cat /etc/fieldkit-agent/config.json')).toBe(config);
    expect((await onPi(pi, 'readlink /opt/fieldkit-agent/previous')).trim()).toBe(`releases/${bundles.base.version}`);

    // Idempotent: same version again → unchanged, nothing sent, the service not restarted.
    const pidBefore = (await onPi(pi, 'systemctl show -p MainPID --value fieldkit-agent')).trim();
    const again = await deploy(0, v2);
    expect(again.status, explain(again)).toBe('unchanged');
    expect(again.bytesSent).toBe(0);
    expect(again.transcript.some((t) => t.command.includes('systemctl restart'))).toBe(false);
    expect((await onPi(pi, 'systemctl show -p MainPID --value fieldkit-agent')).trim()).toBe(pidBefore);
  }, 90_000);
});
