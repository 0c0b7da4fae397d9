/**
 * The agent gates of a slot update on a virtual A/B Pi with the real agent deployed (the
 * deploy engine, as in the field): the trial boot must run the agent, answer hello and show
 * the journal from before the update; a slot that runs another journal is not committed.
 * The agent (/opt, /etc, /var/lib) lives in the virtual Pi's persistent layer, its data
 * partition, so it outlives the switch exactly like the journal on a real card's data partition.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployBundle } from '../../electron/deploy/deployBundle.ts';
import { packImage } from '../../electron/kernel/image/packImage.ts';
import { freePort } from '../../electron/kernel/net/freePort.ts';
import { hostKeyFingerprint } from '../../electron/kernel/link/hostKeyFingerprint.ts';
import type { Link } from '../../electron/kernel/link/linkApi.ts';
import { connectSsh } from '../../electron/kernel/link/sshLink.ts';
import { generateSecretKey } from '../../electron/kernel/signing/minisign.ts';
import { publicKeyOf } from '../../electron/kernel/signing/minisignFormat.ts';
import { slotUpdate } from '../../electron/deploy/slots/slotUpdate.ts';
import { buildAgentBundles, type AgentBundles } from '../support/deployRig.ts';
import { makeTempDir } from '../support/tempDir.ts';
import { startVirtualAbPi, type VirtualAbPi } from '../support/virtualSite/firmware.ts';
import { makeAbDisk } from '../support/virtualSite/firmwareDisk.ts';

const tmp = makeTempDir('fieldkit-slot-agent-');
const at = (name: string) => `${tmp.path}/${name}`;
const key = generateSecretKey();
let pi: VirtualAbPi;
let bundles: AgentBundles;

async function image(version: string): Promise<string> {
  await makeAbDisk(at(`${version}.img`), { version });
  await packImage(at(`${version}.img`), at(`${version}.fkimg`), { product: 'fieldkit-os', version, sequence: 1, boards: ['pi4', 'pi5'], expiresDays: 30, key });
  return at(`${version}.fkimg`);
}

function linkTo(target: VirtualAbPi): Promise<Link> {
  return connectSsh({
    target: { host: target.host, port: target.sshPort, username: target.user },
    appKey: { privateKey: readFileSync(target.privateKeyPath, 'utf8'), publicKey: target.publicKey, path: target.privateKeyPath },
    hostKey: { pinned: hostKeyFingerprint(Buffer.from(target.hostKeyPublic.split(' ')[1] ?? '', 'base64')) },
    timeoutMs: 3000,
  });
}

async function onPi(target: VirtualAbPi, command: string): Promise<void> {
  const r = await target.exec(command);
  if (r.code !== 0) throw new Error(`\`${command}\` exited ${String(r.code)}: ${r.stderr}${r.stdout}`);
}

function update(imagePath: string) {
  return slotUpdate({ openLink: () => linkTo(pi), imagePath, trustedKeys: [publicKeyOf(key)], bootTimeoutMs: 30_000, platform: pi.platform });
}

beforeAll(async () => {
  await makeAbDisk(at('disk.img'), { version: '1.0' });
  [bundles, pi] = await Promise.all([buildAgentBundles(tmp.path), startVirtualAbPi({ disk: at('disk.img'), name: 'abagent' })]);
  const link = await linkTo(pi);
  const deployed = await deployBundle({ link, bundle: { path: bundles.base.archive, trustedKeys: bundles.trustedKeys }, stableSeconds: 1, agentConfig: { device_id: 'abagent', site: 'slot-test', ingest: { port: await freePort() }, health: { vcgencmd: null, nvme: null } } });
  await link.close();
  expect(deployed.error ?? null).toBeNull();
}, 120_000);

afterAll(async () => {
  await pi.stop();
  tmp.remove();
});

describe('slot update with the agent installed', () => {
  it('commits A → B only after the agent answers on the new slot with the journal from before', async () => {
    const outcome = await update(await image('2.0'));
    expect(outcome.error).toBeUndefined();
    expect(outcome).toMatchObject({ status: 'committed', fromSlot: 'a', toSlot: 'b', endSlot: 'b' });
    const said = outcome.transcript.map((t) => t.command);
    expect(said.some((c) => c.startsWith('agent installed: journal '))).toBe(true);
    expect(said.some((c) => /^Agent gates passed: fieldkit-agent\.service active, hello answers, journal \S+ at seq [1-9]/.test(c))).toBe(true);
    expect(said).not.toContain('agent not installed: agent gates skipped');
  }, 60_000);

  it('does not commit a slot on which the agent does not run, and names the gate', async () => {
    // Enabled no more (and not failed, so systemd alone would call the system healthy): after the reboot it is not running.
    await onPi(pi, 'sudo -n systemctl disable fieldkit-agent');
    const outcome = await update(await image('3.0'));
    expect(outcome).toMatchObject({ status: 'rolled-back', fromSlot: 'b', toSlot: 'a', endSlot: 'b' });
    expect(outcome.error?.message).toMatch(/agent gate "agent-unit": fieldkit-agent\.service is inactive/);
    expect(outcome.transcript.map((t) => t.command)).toContain('Every unit is up on the new slot');
  }, 60_000);
});
