/**
 * A replaced device's journals, end to end with a real agent and a real ClickHouse 18.16:
 * the laptop closes the failed device's journal with a loss record "lost with the failed
 * device" for what the device is known to have journaled after the last pull (the dead card
 * can never send one), the replacement's journal opens with a record naming the old one,
 * and reconcile shows the old journal complete through the last pulled seq and names the
 * rest, while the new journal continues.
 */
import { execFileSync } from 'node:child_process';
import { renameSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeReplacedJournal, latestJournalOf } from '../../electron/courier/journalSuccession.ts';
import { openStore, type Store } from '../../electron/kernel/store/openStore.ts';
import { syntheticEvents } from '../support/agentEvents.ts';
import { startClickHouseServer, type ClickHouseServer } from '../support/clickhouseServer.ts';
import { startCourierRig, type CourierRig } from '../support/courierRig.ts';

let server: ClickHouseServer;
let rig: CourierRig;
let store: Store;
let oldJournal = '';

beforeAll(async () => {
  server = await startClickHouseServer();
  rig = await startCourierRig({ deviceId: 'pi-21' });
  await rig.services.handlers['settings.clickhouse.set']({ url: server.url, table: 'replaced' });
  store = openStore(rig.dataDir);
  rig.ingest(syntheticEvents(500));
  expect((await rig.pull()).state).toBe('done');
  // The device journals on after the pull; a backup (or a health sample) saw it reach seq 700.
  rig.ingest(syntheticEvents(200));
  expect(rig.agentJournal().last_seq).toBe(700);
  oldJournal = latestJournalOf(store, 'pi-21')?.journal_id ?? '';
});
afterAll(async () => {
  store.close();
  await rig.close();
  await server.stop();
});

describe('a replaced device', () => {
  it('closes the old journal with one loss record for what only the dead device held, the same on a rerun', () => {
    expect(oldJournal).toMatch(/^[0-9a-f]{32}$/);
    const closed = closeReplacedJournal(store, { deviceId: 'pi-21', journalId: oldJournal, evidenceSeq: 700, nowMs: Date.now() });
    expect(closed).toMatchObject({ through_seq: 500, known_head_seq: 700, lost: { from_seq: 501, to_seq: 700, count: 200, priority: 1, reason: 'lost_with_device' } });
    // A replace killed and rerun (even with older evidence) keeps the record it wrote.
    const rerun = closeReplacedJournal(store, { deviceId: 'pi-21', journalId: oldJournal, evidenceSeq: 0, nowMs: Date.now() });
    expect(rerun).toMatchObject({ through_seq: 500, known_head_seq: 700, lost: { from_seq: 501, to_seq: 700 } });
    const rows = store.prepare(`SELECT from_seq, to_seq, count, reason FROM courier_losses WHERE device_id = 'pi-21'`).all();
    expect(rows).toEqual([{ from_seq: 501, to_seq: 700, count: 200, reason: 'lost_with_device' }]);
  });

  it('starts the new journal with a record naming the old one; reconcile shows the old complete to the last pull and the rest lost with the device', async () => {
    // The card dies: the spare's agent starts on an empty data folder.
    renameSync(join(rig.agent.dataDir, 'journal.db'), join(rig.agent.dataDir, 'journal.db.dead'));
    for (const suffix of ['-wal', '-shm']) {
      try {
        renameSync(join(rig.agent.dataDir, `journal.db${suffix}`), join(rig.agent.dataDir, `journal.db.dead${suffix}`));
      } catch {
        // checkpointed away on close
      }
    }
    const answer = JSON.parse(execFileSync(rig.launcher, ['journal-replaces', '--journal', oldJournal, '--through', '500'], { encoding: 'utf8' })) as { journal_id: string; created: boolean };
    expect(answer.created).toBe(true);
    rig.ingest(syntheticEvents(50));
    expect((await rig.pull()).state).toBe('done');
    const forward = await rig.forward();
    expect(forward.error).toBeNull();

    const { journals } = await rig.services.handlers['courier.reconcile']({ maxRanges: 10 });
    const old = journals.find((j) => j.journal_id === oldJournal);
    const fresh = journals.find((j) => j.journal_id === answer.journal_id);
    expect(old).toMatchObject({ status: 'missing', complete_through_seq: 500, missing_records: 200, missing_by_reason: { lost_on_device: 200, not_yet_pulled: 0, unknown: 0 } });
    expect(old?.summary).toBe(`pi-21 (journal ${oldJournal.slice(0, 8)}): complete through seq 500; seq 501-700 missing (lost with the failed device)`);
    expect(fresh).toMatchObject({ status: 'complete', complete_through_seq: 51 });

    // The new journal's first record, as ClickHouse holds it, names the old journal and the seq.
    const first = JSON.parse(await server.client(`SELECT kind, payload FROM replaced WHERE journal_id = '${answer.journal_id}' AND seq = 1 FORMAT JSONEachRow`)) as { kind: string; payload: string };
    expect(first.kind).toBe('journal.replaces');
    expect(JSON.parse(first.payload)).toEqual({ replaces_journal_id: oldJournal, last_known_seq: 500 });
    // The loss record the laptop wrote went to the loss table like one the device sent.
    const loss = (await server.client(`SELECT from_seq, to_seq, reason FROM replaced_loss WHERE journal_id = '${oldJournal}' FORMAT TSV`)).trim();
    expect(loss).toBe('501\t700\tlost_with_device');
  });
});
