/**
 * The whole bench-to-site path on one real systemd Pi whose only way in is its serial
 * console (sshd off): `fieldkit provision --serial <pty>` (the real CLI, the
 * devices.provision job) registers the Pi as an SSH device with the host key read over the
 * cable; then the deploy engine runs over the SERIAL link of the same Pi (a signed model
 * bundle: small enough for a console, uploaded in checksummed chunks, health-gated), and
 * the SSH link the provisioning registered finds it already installed.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildModelBundle } from '../../electron/deploy/buildModelBundle.ts';
import { deployBundle, type DeployResult } from '../../electron/deploy/deployBundle.ts';
import { importTrustedKey, listTrustedKeys } from '../../electron/kernel/trust/trustStore.ts';
import { loadOrCreateAppSshKey } from '../../electron/kernel/link/appSshKey.ts';
import type { Link } from '../../electron/kernel/link/linkApi.ts';
import { connectSerial } from '../../electron/kernel/link/serialLink.ts';
import { connectSsh } from '../../electron/kernel/link/sshLink.ts';
import { generateSecretKey } from '../../electron/kernel/signing/minisign.ts';
import { formatPublicKey, publicKeyOf } from '../../electron/kernel/signing/minisignFormat.ts';
import { openStore } from '../../electron/kernel/store/openStore.ts';
import type { Device } from '../../shared/devices.ts';
import type { TrustedKey } from '../../shared/trust.ts';
import { runCliProcess } from '../support/runCliProcess.ts';
import { makeTempDir } from '../support/tempDir.ts';
import { startVirtualSite, type VirtualPi, type VirtualSite } from '../support/virtualSite.ts';

const dir = makeTempDir('fieldkit-provision-deploy-');
const dataDir = path.join(dir.path, 'laptop');
const key = generateSecretKey();
let trustedKeys: TrustedKey[];
let site: VirtualSite;
let pi: VirtualPi;

const inferenceUnit = `[Unit]
Description=test inference service (loads /opt/fieldkit-agent/models/active)
[Service]
ExecStart=/bin/sh -c 'head -c 10 /opt/fieldkit-agent/models/active/model.bin | grep -q "^FKMODEL v1" || exit 1; exec sleep infinity'
Restart=on-failure
[Install]
WantedBy=multi-user.target
`;

beforeAll(async () => {
  const store = openStore(dataDir);
  importTrustedKey(store, formatPublicKey(publicKeyOf(key)), 'model publisher');
  trustedKeys = listTrustedKeys(store);
  store.close();
  site = await startVirtualSite({ count: 1, serial: true, name: 'sdpi' });
  pi = site.pis[0] as VirtualPi;
  // The image has an inference service waiting for its model; SSH is off, as on a fresh card.
  const setup = await pi.exec(`sudo -n tee /etc/systemd/system/inference.service >/dev/null <<'EOF'\n${inferenceUnit}EOF\nsudo -n systemctl daemon-reload && sudo -n systemctl enable inference.service 2>&1 && sudo -n systemctl disable --now ssh.service 2>&1`);
  expect(setup.code, setup.stdout + setup.stderr).toBe(0);
}, 120_000);

afterAll(async () => {
  await site.stop();
  dir.remove();
});

describe('provision over serial with the CLI, then deploy over the serial link', () => {
  let registered: Device;

  it('fieldkit provision registers the Pi as an SSH device, its host key pinned from the cable', async () => {
    const started = performance.now();
    const run = await runCliProcess(
      ['--data-dir', dataDir, 'provision', '--serial', pi.serialPath ?? '', '--hostname', 'sd-042', '--device-id', 'sd-042', '--site', 'quarry', '--network', 'static:10.77.0.42/24,10.77.0.1,10.77.0.1', '--ssh-host', '127.0.0.1'],
      { FIELDKIT_SERIAL_PASSWORD: pi.password },
    );
    const elapsed = performance.now() - started;
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toMatch(/changed\s+hostname\s+was sdpi-1, now sd-042/);
    expect(run.stdout).toMatch(/changed\s+sshd\s+ssh\.service enabled, started/);
    expect(run.stdout).toMatch(/\[ssh-key\] sudo -n sh -c .* → exit 0, \d+ ms/);
    expect(run.stdout).toContain(`answers at pi@127.0.0.1:${String(pi.sshPort)}`);

    const listed = await runCliProcess(['--data-dir', dataDir, '--json', 'devices']);
    const devices = (JSON.parse(listed.stdout) as { devices: Device[] }).devices;
    const ssh = devices.find((d) => d.link.kind === 'ssh');
    expect(ssh).toMatchObject({ name: 'sd-042', site: 'quarry', link: { kind: 'ssh', host: '127.0.0.1', port: pi.sshPort, username: 'pi' } });
    expect(devices.some((d) => d.link.kind === 'serial' && d.link.path === pi.serialPath)).toBe(true);
    registered = ssh as Device;
    // The pin is the Pi's own host key (the site's oracle), never accepted on first use.
    const expected = (await import('../../electron/provision/provisionOverSerial.ts')).fingerprintOfKeyLine(pi.hostKeyPublic);
    expect(registered.hostKeyFingerprint).toBe(expected);

    // The job's history keeps the steps and transcript, never a secret.
    const jobs = await runCliProcess(['--data-dir', dataDir, '--json', 'jobs']);
    expect(jobs.stdout).toContain('devices.provision');
    expect(jobs.stdout).not.toContain(pi.password);
    console.log(`fieldkit provision (CLI + job) took ${(elapsed / 1000).toFixed(1)} s`);
  });

  it('deploys a signed model bundle over the serial console: chunked upload, verified, switched, health-gated', async () => {
    const archive = path.join(dir.path, 'model-1.0.0.tar');
    const weights = Buffer.concat([Buffer.from('FKMODEL v1\n'), randomBytes(48 * 1024)]);
    await buildModelBundle({
      archive,
      name: 'quarry-detector',
      version: '1.0.0',
      install: { prefix: '/opt/fieldkit-agent', service: 'inference.service', health_command: 'systemctl is-active -q inference.service' },
      key,
      files: [
        { path: 'model.bin', source: { kind: 'bytes', bytes: weights } },
        { path: 'labels.txt', source: { kind: 'bytes', bytes: Buffer.from('person\nvehicle\n') } },
      ],
    });
    const serial: Link = await connectSerial({ target: { path: pi.serialPath ?? '' }, credentials: { username: 'pi', password: pi.password } });
    let result: DeployResult;
    const started = performance.now();
    try {
      result = await deployBundle({ link: serial, bundle: { path: archive, trustedKeys }, stableSeconds: 2 });
    } finally {
      await serial.close();
    }
    const elapsed = (performance.now() - started) / 1000;
    const explain = `${result.status}: ${result.error?.message ?? ''}\n${result.transcript.map((t) => `[${t.step}] ${t.command.slice(0, 120)} → ${String(t.exitCode)} ${t.output.slice(-200)}`).join('\n')}`;
    expect(result.status, explain).toBe('updated');
    // Over a console the engine sends files gzipped: random weights do not shrink.
    expect(result.bytesSent).toBeGreaterThan(weights.length);
    expect(result.bytesSent).toBeLessThan(weights.length + 1024);
    expect(result.transcript.map((t) => t.step)).toEqual(expect.arrayContaining(['verify', 'preflight', 'upload', 'install', 'switch', 'restart', 'gate']));
    const uploadMs = result.transcript.filter((t) => t.step === 'upload').reduce((sum, t) => sum + t.durationMs, 0);
    console.log(`model deploy over the serial console: ${String(result.bytesSent)} bytes sent in ${(uploadMs / 1000).toFixed(1)} s of upload (${(result.bytesSent / 1024 / (uploadMs / 1000)).toFixed(0)} KiB/s), ${elapsed.toFixed(1)} s in all, ${String(result.transcript.length)} commands`);

    // Carry on over SSH, as the provisioning left it: fieldkit's key, the pinned host key; the model is there and running.
    const appKey = loadOrCreateAppSshKey(dataDir);
    const ssh = await connectSsh({ target: { host: '127.0.0.1', port: pi.sshPort, username: 'pi' }, appKey, hostKey: { pinned: registered.hostKeyFingerprint } });
    try {
      const check = await ssh.exec('readlink /opt/fieldkit-agent/models/active; systemctl is-active inference.service; hostname');
      expect(check.stdout.toString('utf8').trim().split('\n')).toEqual(['1.0.0', 'active', 'sd-042']);
      const again = await deployBundle({ link: ssh, bundle: { path: archive, trustedKeys }, stableSeconds: 2 });
      expect(again.status).toBe('unchanged');
      expect(again.bytesSent).toBe(0);
    } finally {
      await ssh.close();
    }
    expect(readFileSync(path.join(dataDir, 'ssh', 'id_ed25519.pub'), 'utf8').trim()).toBe(appKey.publicKey);
  });
});
