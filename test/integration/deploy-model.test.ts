/**
 * Model bundles on a real systemd Pi: installed under <prefix>/models/<version> with every
 * SHA-256 checked before `models/active` switches, the named inference service restarted
 * and gated; an upgrade sends only the changed files; a model the service cannot load is
 * rolled back to the previous one, which keeps serving; the same version again is unchanged.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildModelBundle } from '../../electron/deploy/buildModelBundle.ts';
import { deployBundle, type DeployResult } from '../../electron/deploy/deployBundle.ts';
import { inspectBundle, openBundle } from '../../electron/deploy/signedBundle.ts';
import { importTrustedKey, listTrustedKeys } from '../../electron/kernel/trust/trustStore.ts';
import type { Link } from '../../electron/kernel/link/linkApi.ts';
import { generateSecretKey } from '../../electron/kernel/signing/minisign.ts';
import { formatPublicKey, publicKeyOf } from '../../electron/kernel/signing/minisignFormat.ts';
import { openStore } from '../../electron/kernel/store/openStore.ts';
import { installedModelManifestPath, type ModelBundleManifest } from '../../shared/modelBundle.ts';
import type { TrustedKey } from '../../shared/trust.ts';
import { linkTo, onPi } from '../support/deployRig.ts';
import { makeTempDir } from '../support/tempDir.ts';
import { startVirtualSite, type VirtualPi, type VirtualSite } from '../support/virtualSite.ts';

const dir = makeTempDir('fieldkit-deploy-model-');
const key = generateSecretKey();
let trustedKeys: TrustedKey[];
let site: VirtualSite;
let pi: VirtualPi;
let link: Link;

// The inference service loads <prefix>/models/active/model.bin and refuses a bad header, as a real runtime refuses a bad model.
const inferenceUnit = `[Unit]
Description=test inference service (loads /opt/fieldkit-agent/models/active)
[Service]
ExecStart=/bin/sh -c 'm=/opt/fieldkit-agent/models/active/model.bin; head -c 10 "$m" | grep -q "^FKMODEL v1" || { echo "cannot load $m: bad header" >&2; exit 1; }; echo "serving $(readlink /opt/fieldkit-agent/models/active)"; exec sleep infinity'
Restart=on-failure
RestartSec=500ms
[Install]
WantedBy=multi-user.target
`;

const install: ModelBundleManifest['install'] = {
  prefix: '/opt/fieldkit-agent',
  service: 'inference.service',
  health_command: 'systemctl is-active -q inference.service && head -c 10 /opt/fieldkit-agent/models/active/model.bin | grep -q "^FKMODEL v1"',
};
const labels = Buffer.from(Array.from({ length: 2000 }, (_, i) => `label-${String(i)}`).join('\n'));

async function model(version: string, weights: Buffer, overrides: Partial<ModelBundleManifest['install']> = {}): Promise<string> {
  const archive = path.join(dir.path, `model-${version}.tar`);
  await buildModelBundle({
    archive,
    name: 'people-detector',
    version,
    install: { ...install, ...overrides },
    key,
    files: [
      { path: 'model.bin', source: { kind: 'bytes', bytes: weights } },
      { path: 'labels.txt', source: { kind: 'bytes', bytes: labels } },
    ],
  });
  return archive;
}

function weights(header: string, seed: number): Buffer {
  const body = Buffer.alloc(3 * 1024 * 1024, seed);
  return Buffer.concat([Buffer.from(header + '\n'), body]);
}

function deploy(archive: string): Promise<DeployResult> {
  return deployBundle({ link, bundle: { path: archive, trustedKeys }, stableSeconds: 2 });
}

function explain(result: DeployResult): string {
  return `${result.status}: ${result.error?.message ?? ''}\n${result.transcript.map((t) => `[${t.step}] ${t.command.slice(0, 160)} → ${String(t.exitCode)} ${t.output.slice(-300)}`).join('\n')}`;
}

beforeAll(async () => {
  const store = openStore(path.join(dir.path, 'laptop'));
  importTrustedKey(store, formatPublicKey(publicKeyOf(key)), 'model publisher');
  trustedKeys = listTrustedKeys(store);
  store.close();
  site = await startVirtualSite({ count: 1, name: 'mpi' });
  pi = site.pis[0] as VirtualPi;
  await onPi(pi, `sudo -n tee /etc/systemd/system/inference.service >/dev/null <<'EOF'\n${inferenceUnit}EOF\nsudo -n systemctl daemon-reload && sudo -n systemctl enable inference.service`);
  link = await linkTo(pi);
}, 60_000);

afterAll(async () => {
  await link.close();
  await site.stop();
  dir.remove();
});

describe('deploying model bundles', () => {
  it('installs, upgrades sending only what changed, rolls back a model that does not load, and leaves the same version unchanged', async () => {
    const v1 = await model('1.0.0', weights('FKMODEL v1', 1));
    const summary = await inspectBundle(v1, trustedKeys);
    expect(summary).toMatchObject({ kind: 'model', product: 'fieldkit-model', version: '1.0.0', arch: null, signature: { status: 'trusted', signer: 'model publisher' }, problems: [] });

    const first = await deploy(v1);
    expect(first.status, explain(first)).toBe('updated');
    expect(first.bytesSent).toBe(summary.totalBytes);
    expect((await onPi(pi, 'readlink /opt/fieldkit-agent/models/active; systemctl is-active inference')).trim().split('\n')).toEqual(['1.0.0', 'active']);
    // The signed manifest stays on the device: the state backup names the model by it instead of copying its files.
    const kept = JSON.parse(await onPi(pi, `cat ${installedModelManifestPath('/opt/fieldkit-agent/models', '1.0.0')}`)) as ModelBundleManifest;
    expect(kept).toMatchObject({ name: 'people-detector', version: '1.0.0' });
    expect(kept.files).toEqual((await openBundle(v1, trustedKeys)).files);

    // New weights, same labels: only model.bin crosses.
    const second = await deploy(await model('2.0.0', weights('FKMODEL v1', 2)));
    expect(second.status, explain(second)).toBe('updated');
    expect(second.fromVersion).toBe('1.0.0');
    expect(second.bytesSent).toBe(3 * 1024 * 1024 + 11);
    expect((await onPi(pi, 'readlink /opt/fieldkit-agent/models/active; readlink /opt/fieldkit-agent/models/previous')).trim().split('\n')).toEqual(['2.0.0', '1.0.0']);

    // A model the service cannot load: the gate fails, 2.0.0 is active again and served.
    const bad = await deploy(await model('3.0.0', weights('FKMODEL v0', 3)));
    expect(bad.status, explain(bad)).toBe('rolled-back');
    expect(bad.gateFailed).toBe('inference-service');
    expect(bad.error?.message).toMatch(/Model 3\.0\.0 failed its inference-service gate.*Model 2\.0\.0 is active again/);
    expect(bad.unitLog.join('\n')).toContain('bad header');
    expect((await onPi(pi, 'readlink /opt/fieldkit-agent/models/active; systemctl is-active inference; systemctl show -p MainPID --value inference')).trim().split('\n').slice(0, 2)).toEqual(['2.0.0', 'active']);
    const servingLog = await onPi(pi, 'sudo -n journalctl -u inference -n 1 -o cat --no-pager');
    expect(servingLog.trim()).toBe('serving 2.0.0');

    // The same version again: unchanged, nothing sent, no restart.
    const pid = (await onPi(pi, 'systemctl show -p MainPID --value inference')).trim();
    const again = await deploy(await model('2.0.0', weights('FKMODEL v1', 2)));
    expect(again.status, explain(again)).toBe('unchanged');
    expect(again.bytesSent).toBe(0);
    expect((await onPi(pi, 'systemctl show -p MainPID --value inference')).trim()).toBe(pid);
  }, 60_000);

  it('refuses a model for a service the device does not have, changing nothing', async () => {
    const result = await deploy(await model('9.0.0', weights('FKMODEL v1', 9), { service: 'missing-inference.service' }));
    expect(result.status).toBe('refused');
    expect(result.error?.message).toContain('missing-inference.service is not installed');
    expect(result.bytesSent).toBe(0);
    expect((await onPi(pi, 'readlink /opt/fieldkit-agent/models/active; ls /opt/fieldkit-agent/models')).trim().split('\n')).toEqual(['2.0.0', '1.0.0', '2.0.0', '3.0.0', 'active', 'previous']);
  });
});
