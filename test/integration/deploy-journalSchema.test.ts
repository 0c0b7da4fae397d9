/**
 * An upgrade whose agent migrates the journal schema, then fails its health gate and is
 * rolled back: the old agent serves on the journal the new one migrated (migrations are
 * additive; journal_compat says which agents may use the file), every record written
 * before the upgrade is still there, and the journal keeps taking new ones.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployedAgentRpcCommand } from '../../electron/deploy/agentGates.ts';
import { deployBundle, type DeployResult } from '../../electron/deploy/deployBundle.ts';
import { openAgentSession } from '../../electron/devices/deviceConnection.ts';
import { freePort } from '../../electron/kernel/net/freePort.ts';
import { buildAgentBundles, linkTo, onPi, type AgentBundles } from '../support/deployRig.ts';
import { makeTempDir } from '../support/tempDir.ts';
import { startVirtualSite, type VirtualPi, type VirtualSite } from '../support/virtualSite.ts';

const dir = makeTempDir('fieldkit-deploy-schema-');
let bundles: AgentBundles;
let site: VirtualSite;
let port = 0;
const paths = { prefix: '/opt/fieldkit-agent', configPath: '/etc/fieldkit-agent/config.json', unit: 'fieldkit-agent.service', serviceUser: 'fieldkit-agent' };
const agent = 'sudo -n -u fieldkit-agent /opt/fieldkit-agent/current/bin/fieldkit-agent --config /etc/fieldkit-agent/config.json';
/** The journal's schema as SQLite has it, read on the Pi with the bundled node. */
const readSchema = `sudo -n -u fieldkit-agent /opt/fieldkit-agent/current/node/bin/node -e ${JSON.stringify(
  "const {DatabaseSync}=require('node:sqlite');const c=JSON.parse(require('fs').readFileSync('/etc/fieldkit-agent/config.json','utf8'));const d=new DatabaseSync((c.data_dir||'/var/lib/fieldkit-agent')+'/journal.db',{timeout:5000});const cols=d.prepare('PRAGMA table_info(records)').all().map(r=>r.name);console.log(JSON.stringify({v:d.prepare('PRAGMA user_version').get().user_version,labels:cols.includes('labels')}))",
).replaceAll('$', '\\$')}`;

function thePi(): VirtualPi {
  const found = site.pis[0];
  if (found === undefined) throw new Error('no Pi');
  return found;
}

async function deploy(target: VirtualPi, archive: string): Promise<DeployResult> {
  const link = await linkTo(target);
  try {
    return await deployBundle({
      link,
      bundle: { path: archive, trustedKeys: bundles.trustedKeys },
      stableSeconds: 4,
      agentConfig: { device_id: target.name, ingest: { port }, health: { vcgencmd: null, nvme: null } },
    });
  } finally {
    await link.close().catch(() => undefined);
  }
}

function explain(result: DeployResult): string {
  return `${result.status}: ${result.error?.message ?? ''}\n${result.transcript.map((t) => `[${t.step}] ${t.command.slice(0, 160)} → ${String(t.exitCode)} ${t.output.slice(-300)}`).join('\n')}`;
}

beforeAll(async () => {
  [bundles, site] = await Promise.all([buildAgentBundles(dir.path), startVirtualSite({ count: 1, name: 'spi' })]);
  port = await freePort();
  const installed = await deploy(thePi(), bundles.base.archive);
  expect(installed.status, explain(installed)).toBe('updated');
}, 120_000);

afterAll(async () => {
  await site.stop();
  dir.remove();
});

describe('a journal schema change across upgrade and rollback', () => {
  it('upgrades with a journal migration, fails the gate, rolls back: the old agent serves on the migrated journal with every earlier record', async () => {
    const target = thePi();
    await onPi(target, `printf '%s\\n' '{"priority":1,"kind":"safety","payload":{"n":1}}' '{"priority":2,"kind":"state","payload":{"n":2}}' | ${agent} ingest`);
    const before = (await onPi(target, `${agent} export`)).trim().split('\n');
    const base = JSON.parse(await onPi(target, readSchema)) as { v: number; labels: boolean };
    expect(base.labels).toBe(false);

    const migrating = await bundles.variant('0.9.0-schema', {
      journalMigration: "ALTER TABLE records ADD COLUMN labels TEXT NOT NULL DEFAULT ''",
      daemonExitsAfterMs: 2500,
    });
    const result = await deploy(target, migrating);
    expect(result.status, explain(result)).toBe('rolled-back');
    expect(result.gateFailed).not.toBeNull();
    expect(result.error?.message).toContain(`${bundles.base.version} was restored and is healthy`);
    expect(result.unitLog.join('\n')).toContain('daemon exiting on purpose');

    // The new agent did migrate the journal; the old one runs on it as it is.
    expect(JSON.parse(await onPi(target, readSchema))).toEqual({ v: base.v + 1, labels: true });
    expect((await onPi(target, 'readlink /opt/fieldkit-agent/current; systemctl is-active fieldkit-agent')).trim().split('\n')).toEqual([`releases/${bundles.base.version}`, 'active']);
    const link = await linkTo(target);
    try {
      const session = await openAgentSession(link, deployedAgentRpcCommand(paths));
      expect(session.hello.agent_version).toBe(bundles.base.version);
      await session.close();
    } finally {
      await link.close();
    }
    const after = (await onPi(target, `${agent} export`)).trim().split('\n');
    expect(after.slice(0, before.length)).toEqual(before);
    await onPi(target, `printf '%s\\n' '{"priority":3,"kind":"metric","payload":{"n":3}}' | ${agent} ingest`);
    const last = (await onPi(target, `${agent} export`)).trim().split('\n');
    expect(last).toHaveLength(after.length + 1);
    expect(last.at(-1)).toContain('"kind":"metric"');
    // The unit stays up on the old release (no restarts caused by the newer schema).
    expect((await onPi(target, 'sleep 3; systemctl is-active fieldkit-agent')).trim()).toBe('active');
  }, 90_000);
});
