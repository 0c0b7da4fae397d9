/**
 * Replacing a dead Pi on the virtual site (real systemd Pis, sshd, the deployed agent, restic,
 * the real `fieldkit` CLI): the device is pulled, journals on, is backed up, and dies; a spare
 * already running becomes it with `fieldkit replace` — killed once mid-way with -9 and run
 * again, which finishes without a second journal. Then: same device id, hostname, agent
 * version and config; the pinned host key accepted without a prompt (a pull over the device
 * entry); the old journal closed on the laptop with the rest "lost with the failed device";
 * the new journal continues it. A second replace with --rotate-credentials pins a new key,
 * and the old key (still on the first spare) is refused.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppServices } from '../../electron/app/appServices.ts';
import { loadOrCreateAppSshKey } from '../../electron/kernel/link/appSshKey.ts';
import { hostKeyFingerprint } from '../../electron/kernel/link/hostKeyFingerprint.ts';
import { connectSsh } from '../../electron/kernel/link/sshLink.ts';
import { openStore } from '../../electron/kernel/store/openStore.ts';
import { ReplaceResultSchema } from '../../shared/recoveryReplace.ts';
import { startIngest } from '../support/backupRig.ts';
import { onPi } from '../support/deployRig.ts';
import { startRolloutSite, type RolloutSite } from '../support/rolloutSite.ts';
import { runCliProcess, startCliProcess } from '../support/runCliProcess.ts';
import type { VirtualPi } from '../support/virtualSite.ts';
import { waitFor } from '../support/waitFor.ts';

let rollout: RolloutSite;
let dead: VirtualPi;
let spare: VirtualPi;
let deviceRef = '';
let oldKey = '';
let oldJournal = { journal_id: '', last_seq: 0 };
let pulledThrough = 0;
const agent = 'sudo -n /opt/fieldkit-agent/current/bin/fieldkit-agent';

function keyOf(pi: VirtualPi): string {
  return hostKeyFingerprint(Buffer.from(pi.hostKeyPublic.split(' ')[1] ?? '', 'base64'));
}

async function journalOf(pi: VirtualPi): Promise<{ journal_id: string; last_seq: number }> {
  return (JSON.parse(await onPi(pi, `${agent} status --json`)) as { journal: { journal_id: string; last_seq: number } }).journal;
}

async function withApp<T>(use: (app: AppServices) => Promise<T>): Promise<T> {
  const app = await rollout.open();
  try {
    return await use(app);
  } finally {
    await app.close();
  }
}

function storeRows<T>(sql: string): T[] {
  const db = openStore(rollout.dataDir);
  try {
    return db.prepare(sql).all() as T[];
  } finally {
    db.close();
  }
}

/** The CLI's children (its job worker), from /proc, so a killed CLI's worker can be waited out. */
function childrenOf(pid: number): number[] {
  return readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .map(Number)
    .filter((p) => {
      try {
        const stat = readFileSync(`/proc/${String(p)}/stat`, 'utf8');
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid;
      } catch {
        return false;
      }
    });
}

function gone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch {
    return true;
  }
}

beforeAll(async () => {
  rollout = await startRolloutSite({ count: 3, name: 'xpi' });
  const [a, b] = rollout.site.pis;
  if (a === undefined || b === undefined) throw new Error('no Pis');
  dead = a;
  spare = b;
  oldKey = keyOf(dead);
  const port = (JSON.parse(await onPi(dead, 'sudo -n cat /etc/fieldkit-agent/config.json')) as { ingest: { port: number } }).ingest.port;
  await onPi(dead, `printf '%s\\n' '{"priority":2,"kind":"state","payload":{"n":1}}' | sudo -n -u fieldkit-agent /opt/fieldkit-agent/current/bin/fieldkit-agent ingest`);
  await withApp(async (app) => {
    deviceRef = (await app.handlers['devices.list']({})).devices.find((d) => d.name === dead.name)?.id ?? '';
    const pull = await app.jobs.whenFinished((await app.handlers['courier.pull']({ id: deviceRef })).jobId);
    expect(pull.state, pull.error?.message).toBe('done');
    // The device journals on after the pull; the backup sees it.
    pulledThrough = (await journalOf(dead)).last_seq;
    const ingest = startIngest(port);
    await waitFor(async () => (await journalOf(dead)).last_seq > pulledThrough + 300, { timeoutMs: 60_000, what: 'the device to journal 300 more records' });
    await ingest.stop();
    const backup = await app.jobs.whenFinished((await app.handlers['backup.start']({ deviceIds: [deviceRef], classes: ['secrets', 'config', 'state'] })).jobId);
    expect(backup.state, backup.error?.message).toBe('done');
  });
  oldJournal = await journalOf(dead);
  await dead.stop();
}, 900_000);

afterAll(async () => {
  await rollout.stop();
});

describe('fieldkit replace onto a spare already running', () => {
  it('killed with -9 mid-way and run again, finishes: the spare is the device, its journal continues the old one, once', async () => {
    const args = ['--data-dir', rollout.dataDir, 'replace', dead.name, '--onto', `pi@127.0.0.1:${String(spare.sshPort)}`, '--spare-host-key', keyOf(spare)];
    const first = startCliProcess(args);
    let output = '';
    first.stderr?.on('data', (d: Buffer) => (output += d.toString('utf8')));
    await waitFor(() => storeRows<{ step: string }>(`SELECT step FROM recovery_replace_steps`).some((s) => s.step === 'journal-continuity'), { timeoutMs: 300_000, intervalMs: 50, what: `the journal step done (${output})` });
    // The laptop dies: the CLI and its job worker killed at once, mid-replace.
    const workers = childrenOf(first.pid ?? 0);
    expect(workers.length).toBeGreaterThan(0);
    first.kill('SIGKILL');
    for (const w of workers) process.kill(w, 'SIGKILL');
    await waitFor(() => workers.every(gone), { timeoutMs: 60_000, what: 'the job worker gone' });

    const rerun = await runCliProcess([...args, '--json']);
    expect(rerun.code, rerun.stderr + rerun.stdout).toBe(0);
    // The killed run never finished; only the rerun did.
    const runs = storeRows<{ ok: number; result: string }>(`SELECT ok, result FROM recovery_runs WHERE kind = 'replace' AND ok = 1`);
    expect(runs).toHaveLength(1);
    const result = ReplaceResultSchema.parse(JSON.parse(runs[0]?.result ?? 'null'));
    // The runbook holds every command, the killed run's included.
    const runbook = readFileSync(result.runbookPath ?? '', 'utf8');
    expect(runbook).toContain('journal-replaces');
    expect(runbook).toContain('backup-restore');
    expect(result.checks.find((c) => c.name === 'hello')?.detail).toContain(`hostname ${dead.name}`);
    expect(result.ok).toBe(true);
    expect(result.rtoMs).toBeGreaterThan(0);
    // Each step of the replace done once across both runs: the rerun did not redo what the killed run finished.
    for (const name of ['deploy-agent', 'restore-classes', 'host-keys', 'journal-continuity', 'repoint']) {
      expect(result.steps.filter((s) => s.name === name).map((s) => s.status), name).toEqual(['done']);
    }
    expect(result.checks.map((c) => [c.name, c.ok])).toEqual([['hello', true], ['journal', true], ['ingest', true], ['health', true]]);
    expect(result.hostKey).toEqual({ fingerprint: oldKey, rotated: false, revoked: null });

    // Same id, hostname, config; the spare presents the old key, so the pinned key is accepted without a prompt.
    const link = await connectSsh({ target: { host: '127.0.0.1', port: spare.sshPort, username: 'pi' }, appKey: loadOrCreateAppSshKey(rollout.dataDir), hostKey: { pinned: oldKey }, timeoutMs: 15_000 });
    const onSpare = async (command: string): Promise<string> => {
      const r = await link.exec(command, { timeoutMs: 30_000 });
      expect(r.code, `${command}: ${r.stderr.toString('utf8')}`).toBe(0);
      return r.stdout.toString('utf8');
    };
    const config = JSON.parse(await onSpare('sudo -n cat /etc/fieldkit-agent/config.json')) as { device_id: string };
    expect(config.device_id).toBe(dead.name);
    expect((await onSpare('cat /etc/hostname')).trim()).toBe(dead.name);
    const now = (JSON.parse(await onSpare(`${agent} status --json`)) as { journal: { journal_id: string } }).journal;
    expect(now.journal_id).toBe(result.continuity?.newJournalId);
    const first1 = JSON.parse((await onSpare(`sudo -n -u fieldkit-agent /opt/fieldkit-agent/current/bin/fieldkit-agent export --limit 1`)).trim()) as { seq: number; kind: string; payload: string };
    expect(first1).toMatchObject({ seq: 1, kind: 'journal.replaces' });
    expect(JSON.parse(first1.payload)).toEqual({ replaces_journal_id: oldJournal.journal_id, last_known_seq: pulledThrough });
    // One continued journal: the spare's own and the restored old one are kept aside, not continued.
    const journals = (await onSpare('sudo -n ls /var/lib/fieldkit-agent')).split('\n').filter((f) => /^journal\..*db$/.test(f));
    expect(journals.filter((f) => f === 'journal.db')).toHaveLength(1);
    expect(journals).toContain(`journal.${oldJournal.journal_id}.db`);
    await link.close();

    await withApp(async (app) => {
      const device = (await app.handlers['devices.list']({})).devices.find((d) => d.id === deviceRef);
      expect(device?.hostKeyFingerprint).toBe(oldKey);
      const pull = await app.jobs.whenFinished((await app.handlers['courier.pull']({ id: deviceRef })).jobId);
      expect(pull.state, pull.error?.message).toBe('done');
    });
    const losses = storeRows<{ journal_id: string; from_seq: number; to_seq: number; reason: string }>(`SELECT journal_id, from_seq, to_seq, reason FROM courier_losses WHERE reason = 'lost_with_device'`);
    expect(losses).toEqual([{ journal_id: oldJournal.journal_id, from_seq: pulledThrough + 1, to_seq: oldJournal.last_seq, reason: 'lost_with_device' }]);
    const held = storeRows<{ journal_id: string; n: number }>(`SELECT journal_id, count(*) AS n FROM courier_records WHERE seq = 1 AND kind = 'journal.replaces' GROUP BY journal_id`);
    expect(held).toEqual([{ journal_id: now.journal_id, n: 1 }]);
  }, 900_000);

  it('with --rotate-credentials pins a new host key, and the old key is refused from then on', async () => {
    const third = rollout.site.pis[2];
    if (third === undefined) throw new Error('no third Pi');
    const run = await runCliProcess(['--data-dir', rollout.dataDir, 'replace', dead.name, '--onto', `pi@127.0.0.1:${String(third.sshPort)}`, '--spare-host-key', keyOf(third), '--rotate-credentials']);
    expect(run.code, run.stderr + run.stdout).toBe(0);
    expect(run.stdout).toMatch(/Host key pinned: SHA256:\S+ \(new; SHA256:\S+ is refused from now on\)/);
    await withApp(async (app) => {
      const device = (await app.handlers['devices.list']({})).devices.find((d) => d.id === deviceRef);
      expect(device?.hostKeyFingerprint).not.toBe(oldKey);
      expect(device?.hostKeyFingerprint).not.toBe(keyOf(third));
    });
    // The first spare still presents the old key: under the pinned key now, it is refused.
    const pinned = await withApp(async (app) => (await app.handlers['devices.list']({})).devices.find((d) => d.id === deviceRef)?.hostKeyFingerprint ?? '');
    await expect(connectSsh({ target: { host: '127.0.0.1', port: spare.sshPort, username: 'pi' }, appKey: loadOrCreateAppSshKey(rollout.dataDir), hostKey: { pinned }, timeoutMs: 15_000 })).rejects.toMatchObject({ appError: { code: 'HOST_KEY_CHANGED' } });
  }, 900_000);
});
