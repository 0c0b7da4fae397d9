/**
 * What the courier does with rows ClickHouse refuses, and how reconcile explains every gap,
 * against a real ClickHouse 18.16 with real agents: a record the server's schema refuses
 * (quarantined with the server's words, then retried or discarded with a reason), records
 * the device dropped for its retention budget (lost on device), a pull cut short (not yet
 * pulled), rows held but not forwarded, and rows deleted from ClickHouse behind the
 * courier's back (named, requeued and sent again); and what "complete" may claim when the device journals on
 * after the pull.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GONE_FROM_CLICKHOUSE } from '../../electron/courier/reconcile.ts';
import { dispatch } from '../../electron/kernel/api/dispatch.ts';
import { methods, type EventPayloadOf } from '../../shared/api.ts';
import { telemetryLossTableDdl, telemetryTableDdl } from '../../shared/clickhouseSchema.ts';
import { ForwardResultSchema } from '../../shared/courier.ts';
import { syntheticEvents } from '../support/agentEvents.ts';
import { startClickHouseServer, type ClickHouseServer } from '../support/clickhouseServer.ts';
import { eventsWithKinds, startCourierRig, type CourierRig } from '../support/courierRig.ts';
import { runCliProcess } from '../support/runCliProcess.ts';

let server: ClickHouseServer;
beforeAll(async () => {
  server = await startClickHouseServer();
});
afterAll(async () => {
  await server.stop();
});

async function finalCount(table: string, deviceId: string): Promise<number> {
  return Number((await server.client(`SELECT count() FROM ${table} FINAL WHERE device_id = '${deviceId}'`)).trim());
}

describe('a row the server refuses', () => {
  let rig: CourierRig;
  const total = 30_000;
  // 0-based event indexes: seqs 12346 and 20001.
  const poison = { 12_345: 'sensor.glitch', 20_000: 'sensor.glitch' };
  beforeAll(async () => {
    rig = await startCourierRig({ deviceId: 'pi-09' });
    rig.ingest(eventsWithKinds(total, poison));
    expect((await rig.pull()).state).toBe('done');
    // The administrator tightened `kind` to the kinds they know: a new kind is refused by the server itself.
    await server.query(telemetryTableDdl({ table: 'tight' }).replace('kind String', "kind Enum8('inference' = 1, 'gps.fix' = 2, 'safety.stop' = 3)"));
    await server.query(telemetryLossTableDdl({ lossTable: 'tight_loss' }));
    await rig.services.handlers['settings.clickhouse.set']({ url: server.url, table: 'tight' });
  });
  afterAll(async () => {
    await rig.close();
  });

  it('is isolated by splitting the batch and quarantined with the server\'s reason; every other row is forwarded', async () => {
    const job = await rig.forward({ batchRows: 10_000 });
    expect(job.error).toBeNull();
    expect(ForwardResultSchema.parse(job.result)).toMatchObject({ forwarded: total - 2, quarantined: 2, pending: 0 });
    expect(job.log.filter((l) => l.level === 'warn' && /refused record pi-09 seq (12346|20001)/.test(l.message))).toHaveLength(2);
    expect(await finalCount('tight', 'pi-09')).toBe(total - 2);
    expect(rig.held()).toMatchObject({ n: total, forwarded: total - 2, pending: 0, quarantined: 2 });

    const list = await rig.services.handlers['courier.quarantine.list']({ includeDiscarded: false, limit: 100 });
    expect(list).toMatchObject({ quarantined: 2, discarded: 0 });
    expect(list.entries.map((e) => [e.kind, e.seq, e.state, e.attempts])).toEqual([
      ['record', 12_346, 'quarantined', 1],
      ['record', 20_001, 'quarantined', 1],
    ]);
    for (const entry of list.entries) {
      expect(entry.reason).toMatch(/ClickHouse refused the data \(code 49\): Code: 49, e\.displayText\(\) = DB::Exception: Unknown element 'sensor\.glitch' for type Enum8/);
      expect(entry.preview).toContain('"kind":"sensor.glitch"');
    }
    const { journals } = await rig.services.handlers['courier.status']({});
    expect(journals[0]).toMatchObject({ quarantined: 2, pending_forward: 0 });

    // Forwarding again sends nothing: quarantined rows wait for the technician.
    expect(ForwardResultSchema.parse((await rig.forward()).result)).toMatchObject({ forwarded: 0, quarantined: 0 });
    const [reconciled] = (await rig.services.handlers['courier.reconcile']({ maxRanges: 10 })).journals;
    expect(reconciled).toMatchObject({ status: 'missing', missing_records: 2, missing_by_reason: { quarantined: 2, unknown: 0 } });
    expect(reconciled?.summary).toBe('pi-09: seq 12346, 20001 missing (quarantined: refused by ClickHouse)');
  });

  it('shows the same through the CLI: the quarantine with the reason, reconcile as a table and as JSON', async () => {
    const list = await runCliProcess(['--data-dir', rig.dataDir, 'quarantine']);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/pi-09\s+12346\s+quarantined \(1 try\)\s+ClickHouse refused the data \(code 49\): Code: 49/);
    expect(list.stdout).toContain('2 quarantined, 0 discarded.');
    // The server's words whole (wrapped, never cut mid-word), as --json has them.
    const { entries } = methods['courier.quarantine.list'].response.parse(JSON.parse((await runCliProcess(['--data-dir', rig.dataDir, '--json', 'quarantine'])).stdout));
    const words = (text: string): string => text.replace(/\s+/g, ' ').trim();
    for (const entry of entries) {
      expect(entry.reason.length).toBeGreaterThan(160);
      expect(words(list.stdout)).toContain(words(entry.reason));
    }
    expect(Math.max(...list.stdout.split('\n').map((l) => l.length))).toBeLessThan(160);
    const human = await runCliProcess(['--data-dir', rig.dataDir, 'reconcile']);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/pi-09\s+\S+\s+2 missing\s+29998 of 30000\s+2/);
    expect(human.stdout).toContain('pi-09: seq 12346, 20001 missing (quarantined: refused by ClickHouse)');
    const json = await runCliProcess(['--data-dir', rig.dataDir, '--json', 'reconcile']);
    expect(methods['courier.reconcile'].response.parse(JSON.parse(json.stdout)).journals[0]?.missing_by_reason.quarantined).toBe(2);
    const noReason = await runCliProcess(['--data-dir', rig.dataDir, 'quarantine', 'discard', '1']);
    expect(noReason.code).toBe(2);
    expect(noReason.stderr).toContain("required option '--reason <text>' not specified");
  });

  it('is discarded only with a reason, which reconcile then gives; retried after the server is fixed, it lands', async () => {
    const [first, second] = (await rig.services.handlers['courier.quarantine.list']({ includeDiscarded: false, limit: 100 })).entries;
    if (!first || !second) throw new Error('expected two quarantined rows');
    const noReason = await dispatch(rig.services.handlers, 'courier.quarantine.discard', { ids: [second.id], reason: ' ' });
    expect(noReason).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST', field: 'reason' } });
    const unknownId = await dispatch(rig.services.handlers, 'courier.quarantine.discard', { ids: [9999], reason: 'no such row' });
    expect(unknownId).toMatchObject({ ok: false, error: { code: 'NOT_FOUND', field: 'ids' } });
    expect(await rig.services.handlers['courier.quarantine.discard']({ ids: [second.id], reason: 'glitch sensor firmware 0.9, readings invalid' })).toEqual({ discarded: 1 });

    // Still refused: a retry quarantines it again, with the attempt counted.
    const stillRefused = await rig.services.handlers['courier.quarantine.retry']({});
    expect(stillRefused.requeued).toBe(1);
    const again = await rig.services.jobs.whenFinished(stillRefused.jobId ?? '');
    expect(ForwardResultSchema.parse(again.result)).toMatchObject({ forwarded: 0, quarantined: 1 });
    expect((await rig.services.handlers['courier.quarantine.list']({ includeDiscarded: true, limit: 100 })).entries.map((e) => [e.seq, e.state, e.attempts, e.discard_reason])).toEqual([
      [12_346, 'quarantined', 2, null],
      [20_001, 'discarded', 1, 'glitch sensor firmware 0.9, readings invalid'],
    ]);

    // The administrator widens the column; the retry lands.
    await server.query('ALTER TABLE tight MODIFY COLUMN kind String');
    const retried = await rig.services.handlers['courier.quarantine.retry']({ ids: [first.id] });
    const landed = await rig.services.jobs.whenFinished(retried.jobId ?? '');
    expect(ForwardResultSchema.parse(landed.result)).toMatchObject({ forwarded: 1, quarantined: 0 });
    expect(await finalCount('tight', 'pi-09')).toBe(total - 1);
    expect(await rig.services.handlers['courier.quarantine.list']({ includeDiscarded: true, limit: 100 })).toMatchObject({ quarantined: 0, discarded: 1 });

    const [reconciled] = (await rig.services.handlers['courier.reconcile']({ maxRanges: 10 })).journals;
    expect(reconciled?.missing).toEqual([{ from_seq: 20_001, to_seq: 20_001, count: 1, reason: 'discarded', detail: 'glitch sensor firmware 0.9, readings invalid' }]);
    expect(reconciled?.summary).toBe('pi-09: seq 20001 missing (discarded: glitch sensor firmware 0.9, readings invalid)');
    // The agent hears the whole journal is settled: the discarded row no longer holds the mark back.
    await rig.pull();
    expect(rig.agentJournal().forwarded_seq).toBe(total);
  });
});

describe('gaps reconcile explains', () => {
  it('records the device dropped for its retention budget: lost on device (retention), with the loss records in ClickHouse too', async () => {
    const rig = await startCourierRig({ deviceId: 'pi-11', agentConfig: { retention: { budget_bytes: 300_000 } } });
    try {
      // Batches a producer would send, each well inside the budget; together four times over it.
      const start = Date.now() - 60_000;
      for (let i = 0; i < 8; i++) rig.ingest(syntheticEvents(500, { startMs: start + i * 5000 }));
      const agent = rig.agentJournal();
      expect(agent.losses).toBeGreaterThan(0);
      expect((await rig.pull()).state).toBe('done');
      await rig.services.handlers['settings.clickhouse.set']({ url: server.url, table: 'lossy' });
      const forwarded = ForwardResultSchema.parse((await rig.forward()).result);
      const [status] = (await rig.services.handlers['courier.status']({})).journals;
      if (!status) throw new Error('no journal');
      expect(forwarded).toMatchObject({ forwarded: status.held, lossesForwarded: status.losses });
      expect((await server.client(`SELECT count(), sum(count) FROM lossy_loss FINAL WHERE device_id = 'pi-11'`)).trim()).toBe(`${status.losses}\t${status.lost_records}`);

      const [journal] = (await rig.services.handlers['courier.reconcile']({ maxRanges: 5 })).journals;
      expect(journal).toMatchObject({ status: 'missing', expected_through: 4000, missing_records: status.lost_records });
      expect(journal?.missing_by_reason).toMatchObject({ lost_on_device: status.lost_records, unknown: 0, not_yet_pulled: 0, not_yet_forwarded: 0 });
      expect(journal?.clickhouse.distinct).toBe(4000 - status.lost_records);
      expect(journal?.missing).toHaveLength(5);
      expect(journal?.missing_ranges_total).toBeGreaterThan(5);
      for (const range of journal?.missing ?? []) expect(range).toMatchObject({ reason: 'lost_on_device', detail: 'retention' });
      expect(journal?.summary).toMatch(/^pi-11: \d+ seqs missing in \d+ ranges between 2 and \d+ \(lost on device: retention\)$/);
    } finally {
      await rig.close();
    }
  });

  it('a pull cut short: not yet pulled; pulled but held here: not yet forwarded; deleted from ClickHouse: named, requeued, sent again', async () => {
    const rig = await startCourierRig({ deviceId: 'pi-12' });
    try {
      const total = 60_000;
      rig.ingest(syntheticEvents(total));
      await rig.services.handlers['settings.clickhouse.set']({ url: server.url, table: 'partial' });
      // The technician leaves the site mid-pull.
      const { jobId } = await rig.services.handlers['courier.pull']({ id: rig.deviceRef });
      for (let i = 0; i < 2000 && rig.held().n < 10_000; i++) await new Promise((resolve) => setTimeout(resolve, 10));
      const cut = await rig.services.jobs.cancel(jobId);
      expect(cut.state).toBe('cancelled');
      const [state] = (await rig.services.handlers['courier.status']({})).journals;
      if (!state) throw new Error('no journal');
      expect(state.contiguous_seq).toBeLessThan(total);
      expect(state.agent_last_seq).toBe(total);
      await rig.forward();

      const [cutShort] = (await rig.services.handlers['courier.reconcile']({ maxRanges: 1000 })).journals;
      const notPulled = total - state.contiguous_seq - (state.held - state.contiguous_seq);
      // Only waiting on the device: complete through the watermark, the rest named, exactly (the pull saw the head).
      expect(cutShort).toMatchObject({ status: 'not_yet_pulled', complete_through_seq: state.contiguous_seq, missing_records: notPulled, not_yet_pulled: notPulled, not_yet_pulled_estimated: false, missing_by_reason: { not_yet_pulled: notPulled, unknown: 0 } });
      expect(cutShort?.missing[0]?.from_seq).toBe(state.contiguous_seq + 1);
      // Safety events above the watermark came first and are in ClickHouse; the rest waits on the device.
      expect(cutShort?.summary).toMatch(new RegExp(`^pi-12: complete through seq ${state.contiguous_seq} \\(pulled (just now|\\d+ s ago)\\); not yet pulled: ${notPulled.toLocaleString('en-US')} records$`));

      expect((await rig.pull()).state).toBe('done');
      const [held] = (await rig.services.handlers['courier.reconcile']({ maxRanges: 1000 })).journals;
      expect(held?.missing_by_reason).toMatchObject({ not_yet_forwarded: notPulled, not_yet_pulled: 0, unknown: 0 });
      expect(held?.summary).toContain('(not yet forwarded)');

      await rig.forward();
      expect((await rig.services.handlers['courier.reconcile']({ maxRanges: 10 })).journals[0]?.summary).toMatch(/^pi-12: complete through seq 60000, all the device had when pulled (just now|\d+ s ago)$/);

      // Someone deletes rows in ClickHouse: reconcile must not call that complete.
      await server.query(`ALTER TABLE partial DELETE WHERE device_id = 'pi-12' AND seq BETWEEN 100 AND 199`);
      for (let i = 0; i < 200 && (await server.query(`SELECT count() FROM system.mutations WHERE table = 'partial' AND is_done = 0`)).trim() !== '0'; i++) {
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      // Judged by the rows present, not by the server's earlier "OK": named, and queued to go again.
      const [deleted] = (await rig.services.handlers['courier.reconcile']({ maxRanges: 10 })).journals;
      expect(deleted?.missing).toEqual([{ from_seq: 100, to_seq: 199, count: 100, reason: 'not_yet_forwarded', detail: GONE_FROM_CLICKHOUSE }]);
      expect(deleted?.summary).toBe(`pi-12: seq 100-199 missing (not yet forwarded: ${GONE_FROM_CLICKHOUSE})`);
      expect(ForwardResultSchema.parse((await rig.forward()).result)).toMatchObject({ forwarded: 100 });
      expect(await finalCount('partial', 'pi-12')).toBe(total);
      expect((await rig.services.handlers['courier.reconcile']({ maxRanges: 10 })).journals[0]?.status).toBe('complete');
    } finally {
      await rig.close();
    }
  });
});

describe('complete means complete', () => {
  /** Resolves with the first live sample of `ref` (from now on) whose backlog reaches `records`. */
  function backlogReaches(rig: CourierRig, records: number, timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        unsubscribe();
        reject(new Error(`no sample with a backlog of ${String(records)} within ${String(timeoutMs)} ms`));
      }, timeoutMs);
      const unsubscribe = rig.services.events.subscribe((name, payload) => {
        if (name !== 'health.changed') return;
        const { samples } = payload as EventPayloadOf<'health.changed'>;
        if (!samples.some((s) => s.deviceId === rig.deviceRef && s.sample.journal.backlog_records >= records)) return;
        clearTimeout(timer);
        unsubscribe();
        resolve();
      });
    });
  }

  it('records journaled after the pull: never a bare "complete"; through which seq and when, and the unpulled count once the device is heard again', async () => {
    const rig = await startCourierRig({ deviceId: 'pi-13' });
    try {
      rig.ingest(syntheticEvents(5000));
      expect((await rig.pull()).state).toBe('done');
      await rig.services.handlers['settings.clickhouse.set']({ url: server.url, table: 'after_pull' });
      expect(ForwardResultSchema.parse((await rig.forward()).result)).toMatchObject({ forwarded: 5000 });

      // Everything the device had at the pull is in ClickHouse; the verdict says so, and as of when.
      const [settled] = (await rig.services.handlers['courier.reconcile']({ maxRanges: 10 })).journals;
      expect(settled).toMatchObject({ status: 'complete', badge: 'complete', complete_through_seq: 5000, not_yet_pulled: 0, device_head: { seq: 5000, source: 'pull' } });
      expect(settled?.summary).toMatch(/^pi-13: complete through seq 5000, all the device had when pulled (just now|\d+ s ago)$/);

      // The device journals on after the courier left.
      rig.ingest(syntheticEvents(10_000, { startMs: Date.now() }));
      const cli = await runCliProcess(['--data-dir', rig.dataDir, 'reconcile']);
      expect(cli.code).toBe(0);
      expect(cli.stdout).not.toMatch(/^pi-13: complete\s*$/m);
      expect(cli.stdout).toContain('pi-13: complete through seq 5000, all the device had when pulled');

      // Heard again (live health): the rest is named, not called complete.
      await rig.services.handlers['health.watch']({ deviceIds: [rig.deviceRef], leaseSeconds: 30 });
      await backlogReaches(rig, 15_000, 20_000);
      const [behind] = (await rig.services.handlers['courier.reconcile']({ maxRanges: 10 })).journals;
      expect(behind).toMatchObject({
        status: 'not_yet_pulled',
        badge: 'complete through seq 5000',
        complete_through_seq: 5000,
        missing_records: 0,
        not_yet_pulled: 10_000,
        not_yet_pulled_estimated: true,
        device_head: { seq: 15_000, source: 'health' },
      });
      expect(behind?.summary).toMatch(/^pi-13: complete through seq 5000 \(pulled (just now|\d+ s ago)\); not yet pulled: about 10,000 records \(the device was at about seq 15000 just now\)$/);

      // Pulled and forwarded again: complete through the new head.
      expect((await rig.pull()).state).toBe('done');
      await rig.forward();
      const [caughtUp] = (await rig.services.handlers['courier.reconcile']({ maxRanges: 10 })).journals;
      expect(caughtUp).toMatchObject({ status: 'complete', complete_through_seq: 15_000, device_head: { seq: 15_000, source: 'pull' } });
    } finally {
      await rig.close();
    }
  });
});
