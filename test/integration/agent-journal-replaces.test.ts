/**
 * Journal continuity on a replacement Pi, with the real agent command line and daemon: the
 * new journal's first record (seq 1) names the failed device's journal and the last seq the
 * laptop knew; asking again changes nothing; a journal that already holds records is refused.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { JournalRecordSchema, JournalReplacesPayloadSchema } from '../../shared/journal.ts';
import { agentEntry, startAgentDaemon, writeAgentConfig } from '../support/agentDaemonProcess.ts';
import { freePort } from '../support/mosquitto.ts';
import { makeTempDir } from '../support/tempDir.ts';

type Run = { code: number | null; stdout: string; stderr: string };

function runAgent(args: readonly string[], stdin = ''): Promise<Run> {
  const child = spawn(process.execPath, [agentEntry, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdin.end(stdin);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      resolve({ code, stdout, stderr });
    });
  });
}

const oldJournal = 'a1b2c3d4e5f60718293a4b5c6d7e8f90';

describe('fieldkit-agent journal-replaces', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });
  async function setup(): Promise<{ config: string; port: number }> {
    const d = makeTempDir('fieldkit-agent-replaces-');
    cleanups.push(() => {
      d.remove();
    });
    const port = await freePort();
    const config = writeAgentConfig(d.path, { device_id: 'pi-07', data_dir: join(d.path, 'data'), ingest: { port }, health: { vcgencmd: null } });
    return { config, port };
  }
  const exportRecords = async (config: string) => (await runAgent(['export', '--config', config])).stdout.trim().split('\n').map((l) => JournalRecordSchema.parse(JSON.parse(l)));

  it('opens a new journal with a first record naming the replaced one; a rerun changes nothing; the daemon continues after it', async () => {
    const { config, port } = await setup();
    const first = await runAgent(['journal-replaces', '--config', config, '--journal', oldJournal, '--through', '1200']);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    const answer = JSON.parse(first.stdout) as { journal_id: string; seq: number; created: boolean; replaces_journal_id: string; last_known_seq: number };
    expect(answer).toMatchObject({ seq: 1, created: true, replaces_journal_id: oldJournal, last_known_seq: 1200 });
    expect(answer.journal_id).toMatch(/^[0-9a-f]{32}$/);
    expect(answer.journal_id).not.toBe(oldJournal);

    // Killed and rerun: the same journal, the same single record.
    const again = await runAgent(['journal-replaces', '--config', config, '--journal', oldJournal, '--through', '1200']);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ journal_id: answer.journal_id, seq: 1, created: false });

    const daemon = await startAgentDaemon(config, port);
    cleanups.push(async () => {
      daemon.child.kill('SIGTERM');
      await daemon.exited;
    });
    const posted = await fetch(`${daemon.url}/v1/events`, { method: 'POST', body: JSON.stringify({ priority: 2, kind: 'state', payload: { n: 1 } }), headers: { 'content-type': 'application/json' } });
    expect(posted.status).toBe(200);
    daemon.child.kill('SIGTERM');
    await daemon.exited;

    const records = await exportRecords(config);
    expect(records.map((r) => [r.seq, r.kind, r.journal_id])).toEqual([
      [1, 'journal.replaces', answer.journal_id],
      [2, 'state', answer.journal_id],
    ]);
    expect(records[0]?.priority).toBe(1);
    expect(JournalReplacesPayloadSchema.parse(JSON.parse(records[0]?.payload ?? ''))).toEqual({ replaces_journal_id: oldJournal, last_known_seq: 1200 });

    // Once the journal has moved on, the same claim is still answered (a rerun after the daemon started).
    const late = await runAgent(['journal-replaces', '--config', config, '--journal', oldJournal, '--through', '1200']);
    expect(JSON.parse(late.stdout)).toMatchObject({ journal_id: answer.journal_id, created: false });
  });

  it('moves a journal that is the old one itself (restored from a backup) aside, whole, and starts a new one', async () => {
    const { config } = await setup();
    const ingested = await runAgent(['ingest', '--config', config], `${JSON.stringify({ priority: 2, kind: 'state', payload: 1 })}\n${JSON.stringify({ priority: 2, kind: 'state', payload: 2 })}\n`);
    const restoredId = (JSON.parse(ingested.stdout) as { journal_id: string }).journal_id;
    const run = await runAgent(['journal-replaces', '--config', config, '--journal', restoredId, '--through', '2']);
    expect(run.stderr).toBe('');
    const answer = JSON.parse(run.stdout) as { journal_id: string; created: boolean };
    expect(answer.created).toBe(true);
    expect(answer.journal_id).not.toBe(restoredId);
    expect((await exportRecords(config)).map((r) => r.kind)).toEqual(['journal.replaces']);
    const dataDir = join(config, '..', 'data');
    expect(existsSync(join(dataDir, `journal.${restoredId}.db`))).toBe(true);
    // Rerun: the new journal is kept, the old one stays aside.
    expect(JSON.parse((await runAgent(['journal-replaces', '--config', config, '--journal', restoredId, '--through', '2'])).stdout)).toMatchObject({ journal_id: answer.journal_id, created: false });
  });

  it('refuses a different claim, a journal that already holds records, and a bad command line, changing nothing', async () => {
    const { config } = await setup();
    expect((await runAgent(['journal-replaces', '--config', config, '--journal', oldJournal, '--through', '7'])).code).toBe(0);
    const other = await runAgent(['journal-replaces', '--config', config, '--journal', oldJournal, '--through', '9']);
    expect(other.code).toBe(1);
    expect(other.stderr).toMatch(/already says it replaces journal a1b2c3d4e5f60718293a4b5c6d7e8f90 after seq 7, not .* after seq 9/);
    expect((await exportRecords(config)).length).toBe(1);

    const busy = await setup();
    const ingested = await runAgent(['ingest', '--config', busy.config, '--json'], JSON.stringify({ priority: 3, kind: 'metric', payload: 1 }));
    expect(ingested.code).toBe(0);
    const refused = await runAgent(['journal-replaces', '--config', busy.config, '--journal', oldJournal, '--through', '7']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/already holds 1 records and does not begin by naming a replaced journal\.\nhint: .*move journal.db aside/);
    expect((await exportRecords(busy.config)).map((r) => r.kind)).toEqual(['metric']);
    // With --aside (the replace job), that journal is kept beside and a new one begins with the record.
    const busyId = (JSON.parse(ingested.stdout) as { journal_id: string }).journal_id;
    const aside = await runAgent(['journal-replaces', '--config', busy.config, '--journal', oldJournal, '--through', '7', '--aside']);
    expect(aside.code).toBe(0);
    expect((await exportRecords(busy.config)).map((r) => r.kind)).toEqual(['journal.replaces']);
    expect(existsSync(join(busy.config, '..', 'data', `journal.${busyId}.db`))).toBe(true);

    for (const args of [['--journal', oldJournal], ['--through', '3'], ['--journal', oldJournal, '--through', 'x']]) {
      const run = await runAgent(['journal-replaces', '--config', config, ...args]);
      expect(run.code, args.join(' ')).toBe(2);
    }
    const notAnId = await runAgent(['journal-replaces', '--config', config, '--journal', 'pi-07', '--through', '3']);
    expect(notAnId.code).toBe(1);
    expect(notAnId.stderr).toMatch(/32 hex digits/);
  });
});
