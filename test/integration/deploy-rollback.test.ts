/**
 * The deploy engine's failure paths on real systemd Pis: an agent that crashes at start is
 * rolled back and the old version keeps serving (with the failed gate and the unit's log
 * lines), the journal outliving upgrade and rollback; a tampered bundle is refused before
 * anything reaches the device; an SSH connection killed mid-upload leaves the old release
 * running, and the next deploy finishes without resending what had arrived; a user without
 * passwordless sudo is refused by name.
 */
import { closeSync, copyFileSync, openSync, readFileSync, readSync, writeSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployedAgentRpcCommand } from '../../electron/deploy/agentGates.ts';
import { deployBundle, type DeployResult } from '../../electron/deploy/deployBundle.ts';
import { inspectBundle } from '../../electron/deploy/signedBundle.ts';
import { openAgentSession } from '../../electron/devices/deviceConnection.ts';
import type { Link } from '../../electron/kernel/link/linkApi.ts';
import { connectSsh } from '../../electron/kernel/link/sshLink.ts';
import { hostKeyFingerprint } from '../../electron/kernel/link/hostKeyFingerprint.ts';
import { freePort } from '../../electron/kernel/net/freePort.ts';
import { listUstar } from '../../electron/kernel/signing/ustarArchive.ts';
import { buildAgentBundles, linkTo, onPi, type AgentBundles } from '../support/deployRig.ts';
import { makeTempDir } from '../support/tempDir.ts';
import { startVirtualSite, type VirtualPi, type VirtualSite } from '../support/virtualSite.ts';

const dir = makeTempDir('fieldkit-deploy-rollback-');
let bundles: AgentBundles;
let site: VirtualSite;
const ports = new Map<VirtualPi, number>();
const paths = { prefix: '/opt/fieldkit-agent', configPath: '/etc/fieldkit-agent/config.json', unit: 'fieldkit-agent.service', serviceUser: 'fieldkit-agent' };
const agent = 'sudo -n -u fieldkit-agent /opt/fieldkit-agent/current/bin/fieldkit-agent --config /etc/fieldkit-agent/config.json';

function pi(i: number): VirtualPi {
  const found = site.pis[i];
  if (found === undefined) throw new Error(`no Pi ${String(i)}`);
  return found;
}

async function deploy(target: VirtualPi, archive: string, options: { link?: Link } = {}): Promise<DeployResult> {
  const link = options.link ?? (await linkTo(target));
  try {
    return await deployBundle({
      link,
      bundle: { path: archive, trustedKeys: bundles.trustedKeys },
      stableSeconds: 2,
      stallSeconds: 5,
      agentConfig: { device_id: target.name, ingest: { port: ports.get(target) ?? 0 }, health: { vcgencmd: null, nvme: null } },
    });
  } finally {
    await link.close().catch(() => undefined);
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
  return `${result.status}: ${result.error?.message ?? ''}\n${result.transcript.map((t) => `[${t.step}] ${t.command.slice(0, 200)} → ${String(t.exitCode)} ${t.output.slice(-400)}`).join('\n')}`;
}

/** Everything under the prefix with size and link target, and the agent's PID: "nothing changed" made checkable. */
async function deviceState(target: VirtualPi): Promise<string> {
  return onPi(target, "sudo -n find /opt/fieldkit-agent /etc/fieldkit-agent /etc/systemd/system/fieldkit-agent.service -printf '%p %s %l\\n' | sort; systemctl show -p MainPID -p NRestarts fieldkit-agent");
}

beforeAll(async () => {
  [bundles, site] = await Promise.all([buildAgentBundles(dir.path), startVirtualSite({ count: 2, name: 'rpi' })]);
  for (const p of site.pis) ports.set(p, await freePort());
  const installed = await Promise.all(site.pis.map((p) => deploy(p, bundles.base.archive)));
  for (const result of installed) expect(result.status, explain(result)).toBe('updated');
}, 120_000);

afterAll(async () => {
  await site.stop();
  dir.remove();
});

describe('deploy failure paths', () => {
  it('rolls back an agent that crashes at start: the old version keeps serving, the gate and unit log recorded, the journal intact', async () => {
    const target = pi(0);
    await onPi(target, `printf '%s\\n' '{"priority":1,"kind":"safety","payload":{"n":1}}' '{"priority":2,"kind":"state","payload":{"n":2}}' | ${agent} ingest`);
    const before = (await onPi(target, `${agent} export`)).trim().split('\n');
    const crashing = await bundles.variant('0.3.0-crash', { crash: true });

    const started = performance.now();
    const result = await deploy(target, crashing);
    const elapsed = performance.now() - started;
    expect(result.status, explain(result)).toBe('rolled-back');
    expect(result.gateFailed).toBe('hello');
    expect([result.fromVersion, result.toVersion]).toEqual([bundles.base.version, '0.3.0-crash']);
    expect(result.error?.message).toMatch(new RegExp(`0\\.3\\.0-crash failed its hello gate.*${bundles.base.version.replaceAll('.', '\\.')} was restored and is healthy`));
    expect(result.unitLog.join('\n')).toContain('crashing at start on purpose');
    expect(result.transcript.filter((t) => t.step === 'rollback' && t.command.includes('systemctl restart')).map((t) => t.exitCode)).toEqual([0]);
    console.log(`crash → rollback on one Pi: ${(elapsed / 1000).toFixed(1)} s, bytes sent ${String(result.bytesSent)}`);

    // The old release serves: current points at it, the unit is up, hello answers with it.
    expect((await onPi(target, 'readlink /opt/fieldkit-agent/current; systemctl is-active fieldkit-agent')).trim().split('\n')).toEqual([`releases/${bundles.base.version}`, 'active']);
    expect(await helloVersion(target)).toBe(bundles.base.version);
    // The journal kept every record from before the attempt, and still takes new ones.
    const after = (await onPi(target, `${agent} export`)).trim().split('\n');
    expect(after.slice(0, before.length)).toEqual(before);
    await onPi(target, `printf '%s\\n' '{"priority":3,"kind":"metric","payload":{"n":3}}' | ${agent} ingest`);
    expect((await onPi(target, `${agent} export`)).trim().split('\n')).toHaveLength(after.length + 1);
  }, 60_000);

  it('refuses a bundle with a tampered file on the laptop: nothing sent, nothing on the device changed', async () => {
    const target = pi(0);
    const tampered = path.join(dir.path, 'tampered.tar');
    copyFileSync(bundles.base.archive, tampered);
    const member = (await listUstar(tampered)).find((m) => m.path === 'lib/agent.mjs');
    if (member === undefined) throw new Error('no lib/agent.mjs');
    const fd = openSync(tampered, 'r+');
    const byte = Buffer.alloc(1);
    readSync(fd, byte, 0, 1, member.offset + 5000);
    writeSync(fd, Buffer.from([byte[0] === 0x20 ? 0x21 : 0x20]), 0, 1, member.offset + 5000);
    closeSync(fd);

    const summary = await inspectBundle(tampered, bundles.trustedKeys);
    // Signed by a trusted key, but a file no longer matches its signed SHA-256: altered.
    expect(summary.signature.status).toBe('invalid');
    expect(summary.problems.map((p) => p.message).join(' ')).toMatch(/lib\/agent\.mjs \(SHA-256 differs/);

    const before = await deviceState(target);
    const result = await deploy(target, tampered);
    expect(result.status).toBe('refused');
    expect(result.error?.code).toBe('VERIFICATION_FAILED');
    expect(result.error?.message).toContain('lib/agent.mjs');
    expect(result.bytesSent).toBe(0);
    expect(result.transcript.map((t) => t.step)).toEqual(['verify']);
    expect(await deviceState(target)).toBe(before);
  });

  it('leaves the old release running when the SSH connection dies mid-upload; the next deploy completes without resending what arrived', async () => {
    const target = pi(1);
    const big = await bundles.variant('0.4.0-big', { extraBytes: 48 * 1024 * 1024 });
    // The kill fires on the device itself, once 8 MiB of the big file sit in the store's
    // incoming folder: a kill sent from here when progress said so raced a fast loopback
    // link and sometimes landed after the whole file had crossed.
    await onPi(
      target,
      `sudo -n setsid sh -c 'for i in $(seq 6000); do if [ -n "$(find /opt/fieldkit-agent/incoming -type f -size +8M 2>/dev/null)" ]; then pkill -KILL -f "^sshd: pi"; exit 0; fi; sleep 0.01; done' </dev/null >/dev/null 2>&1 &`,
    );
    const result = await deploy(target, big);
    expect(result.status, explain(result)).toBe('failed');
    expect(result.error?.code).toMatch(/UNAVAILABLE|IO_ERROR/);
    // agent.mjs had crossed before the kill (and is kept); the ballast had not.
    expect(result.bytesSent).toBeGreaterThan(2 * 1024 * 1024);
    expect(result.bytesSent).toBeLessThan(4 * 1024 * 1024);

    expect((await onPi(target, 'readlink /opt/fieldkit-agent/current; systemctl is-active fieldkit-agent; ls /opt/fieldkit-agent/releases')).trim().split('\n')).toEqual([
      `releases/${bundles.base.version}`,
      'active',
      bundles.base.version,
    ]);
    expect(await helloVersion(target)).toBe(bundles.base.version);

    const retried = await deploy(target, big);
    expect(retried.status, explain(retried)).toBe('updated');
    expect(await helloVersion(target)).toBe('0.4.0-big');
    expect(retried.bytesSent).toBeGreaterThanOrEqual(48 * 1024 * 1024);
    expect(retried.bytesSent).toBeLessThan(48 * 1024 * 1024 + 16 * 1024);
  }, 60_000);

  it('refuses a login without passwordless sudo, naming the user and the sudoers line to add', async () => {
    const target = pi(1);
    await onPi(target, `sudo -n useradd -m -s /bin/bash tech && sudo -n install -d -m 700 -o tech -g tech /home/tech/.ssh && echo '${target.publicKey}' | sudo -n tee /home/tech/.ssh/authorized_keys >/dev/null && sudo -n chown tech: /home/tech/.ssh/authorized_keys`);
    const before = await deviceState(target);
    const link = await connectSsh({
      target: { host: target.host, port: target.sshPort, username: 'tech' },
      appKey: { privateKey: readFileSync(target.privateKeyPath, 'utf8'), publicKey: target.publicKey, path: target.privateKeyPath },
      hostKey: { pinned: hostKeyFingerprint(Buffer.from(target.hostKeyPublic.split(' ')[1] ?? '', 'base64')) },
    });
    const result = await deploy(target, bundles.base.archive, { link });
    expect(result.status).toBe('refused');
    expect(result.error?.code).toBe('PERMISSION_DENIED');
    expect(result.error?.message).toContain('No passwordless sudo for tech');
    expect(result.error?.hint).toContain('/etc/sudoers.d/');
    expect(result.transcript.map((t) => t.step)).toEqual(['verify', 'preflight', 'preflight']);
    expect(await deviceState(target)).toBe(before);
  });
});
