/**
 * Deploying over a Pi's serial console (the virtual Pi's console bridged to a PTY): a fresh
 * Pi that would need the 130 MB runtime is refused with the estimate and the network
 * offered instead, changing nothing; once the runtime is there (installed over SSH), an
 * upgrade of a few MB goes over the console in checksummed chunks, gated and healthy.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployedAgentRpcCommand } from '../../electron/deploy/agentGates.ts';
import { deployBundle, type DeployResult } from '../../electron/deploy/deployBundle.ts';
import { openAgentSession } from '../../electron/devices/deviceConnection.ts';
import type { Link } from '../../electron/kernel/link/linkApi.ts';
import { connectSerial } from '../../electron/kernel/link/serialLink.ts';
import { freePort } from '../../electron/kernel/net/freePort.ts';
import { buildAgentBundles, linkTo, onPi, type AgentBundles } from '../support/deployRig.ts';
import { makeTempDir } from '../support/tempDir.ts';
import { startVirtualSite, type VirtualPi, type VirtualSite } from '../support/virtualSite.ts';

const dir = makeTempDir('fieldkit-deploy-serial-');
let bundles: AgentBundles;
let site: VirtualSite;
let pi: VirtualPi;
let serial: Link;
let port = 0;
const paths = { prefix: '/opt/fieldkit-agent', configPath: '/etc/fieldkit-agent/config.json', unit: 'fieldkit-agent.service', serviceUser: 'fieldkit-agent' };

beforeAll(async () => {
  [bundles, site] = await Promise.all([buildAgentBundles(dir.path), startVirtualSite({ count: 1, name: 'spi', serial: true })]);
  pi = site.pis[0] as VirtualPi;
  port = await freePort();
  serial = await connectSerial({ target: { path: pi.serialPath ?? '' }, credentials: { username: pi.user, password: pi.password } });
}, 120_000);

afterAll(async () => {
  await serial.close();
  await site.stop();
  dir.remove();
});

function deploy(link: Link, archive: string): Promise<DeployResult> {
  return deployBundle({
    link,
    bundle: { path: archive, trustedKeys: bundles.trustedKeys },
    stableSeconds: 2,
    maxTransferSeconds: 120,
    agentConfig: { device_id: pi.name, ingest: { port }, health: { vcgencmd: null, nvme: null } },
  });
}

function explain(result: DeployResult): string {
  return `${result.status}: ${result.error?.message ?? ''}\n${result.transcript.map((t) => `[${t.step}] ${t.command.slice(0, 160)} → ${String(t.exitCode)} ${t.output.slice(-300)}`).join('\n')}`;
}

describe('deploying over the serial console', () => {
  it('refuses the full runtime over the console, naming the time it would take and offering the network', async () => {
    const result = await deploy(serial, bundles.base.archive);
    expect(result.status, explain(result)).toBe('refused');
    expect(result.error?.message).toMatch(/must send 124\.\d MiB; over .* would take about \d+ min/);
    expect(result.error?.hint).toContain('deploy over SSH');
    expect(result.bytesSent).toBe(0);
    expect((await pi.exec('test -e /opt/fieldkit-agent')).code).toBe(1);
  }, 60_000);

  it('upgrades over the console once the runtime is on the device, gated and healthy', async () => {
    const ssh = await linkTo(pi);
    try {
      const installed = await deploy(ssh, bundles.base.archive);
      expect(installed.status, explain(installed)).toBe('updated');
    } finally {
      await ssh.close();
    }
    const v2 = await bundles.variant('0.2.0-serial');
    const started = performance.now();
    const result = await deploy(serial, v2);
    const elapsed = performance.now() - started;
    expect(result.status, explain(result)).toBe('updated');
    expect(result.bytesSent).toBeLessThan(3 * 1024 * 1024);
    console.log(`upgrade over the serial console: ${String(result.bytesSent)} bytes in ${(elapsed / 1000).toFixed(1)} s`);
    const session = await openAgentSession(serial, deployedAgentRpcCommand(paths));
    await session.close();
    expect(session.hello.agent_version).toBe('0.2.0-serial');
    expect((await onPi(pi, 'readlink /opt/fieldkit-agent/current')).trim()).toBe('releases/0.2.0-serial');
  }, 90_000);
});
