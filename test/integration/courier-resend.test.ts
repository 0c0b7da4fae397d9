/**
 * Records ClickHouse confirmed and then lost (a central ALTER TABLE … DELETE) on the current
 * engine (chdb behind its HTTP front), in a table that keeps insert tokens the way a central
 * team's replicated table does (non_replicated_deduplication_window): sent again with the
 * same batch boundaries, the same insert_deduplication_token would make the server answer
 * "OK" and skip them. Reconcile judges by the rows present and requeues them; the resend
 * goes with deduplication off and no token, and the rows are back exactly once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GONE_FROM_CLICKHOUSE } from '../../electron/courier/reconcile.ts';
import { telemetryLossTableDdl, telemetryTableDdl } from '../../shared/clickhouseSchema.ts';
import { ForwardResultSchema } from '../../shared/courier.ts';
import { syntheticEvents } from '../support/agentEvents.ts';
import { startChdbHttp, type ChdbHttp } from '../support/chdbHttp.ts';
import { startCourierRig, type CourierRig } from '../support/courierRig.ts';
import { waitFor } from '../support/waitFor.ts';

describe('a central delete on a server that remembers insert tokens', () => {
  let modern: ChdbHttp;
  let rig: CourierRig;
  const total = 30_000;
  beforeAll(async () => {
    modern = await startChdbHttp();
    rig = await startCourierRig({ deviceId: 'pi-24' });
    rig.ingest(syntheticEvents(total));
    expect((await rig.pull()).state).toBe('done');
    modern.sql(`${telemetryTableDdl({ table: 'central' })} SETTINGS non_replicated_deduplication_window = 1000`);
    modern.sql(telemetryLossTableDdl({ lossTable: 'central_loss' }));
    await rig.services.handlers['settings.clickhouse.set']({ url: modern.url, table: 'central' });
  });
  afterAll(async () => {
    await rig.close();
    await modern.stop();
  });

  const present = (): string => modern.sql("SELECT count(), uniqExact(seq) FROM central FINAL WHERE device_id = 'pi-24'").trim();

  it('sends the deleted records again without token or deduplication; they are back exactly once and reconcile says complete', async () => {
    expect(ForwardResultSchema.parse((await rig.forward({ batchRows: 10_000 })).result)).toMatchObject({ forwarded: total, dedupTokens: true });
    modern.sql("ALTER TABLE central DELETE WHERE device_id = 'pi-24' AND seq BETWEEN 10001 AND 20000");
    await waitFor(() => present() === `${total - 10_000}\t${total - 10_000}`, { timeoutMs: 30_000, what: 'the delete to be applied' });

    const [gone] = (await rig.services.handlers['courier.reconcile']({ maxRanges: 10 })).journals;
    expect(gone?.missing).toEqual([{ from_seq: 10_001, to_seq: 20_000, count: 10_000, reason: 'not_yet_forwarded', detail: GONE_FROM_CLICKHOUSE }]);
    expect(gone?.status).toBe('missing');

    const before = modern.requests.length;
    // The same boundaries as the first time (10001-20000): only the token's absence lets them in.
    const job = await rig.forward({ batchRows: 10_000 });
    expect(ForwardResultSchema.parse(job.result)).toMatchObject({ forwarded: 10_000, pending: 0 });
    // The server took them (with the batch's token it would have answered OK and kept nothing).
    expect(present()).toBe(`${total}\t${total}`);
    const inserts = modern.requests.slice(before).filter((r) => r.query.startsWith('INSERT'));
    expect(inserts.map((r) => [r.rows, r.settings.insert_deduplicate, r.settings.insert_deduplication_token])).toEqual([[10_000, '0', undefined]]);
    const [back] = (await rig.services.handlers['courier.reconcile']({ maxRanges: 10 })).journals;
    expect(back).toMatchObject({ status: 'complete', missing_records: 0, clickhouse: { distinct: total } });

    // Resent and confirmed: the journal is back to ordinary inserts, with tokens.
    rig.ingest(syntheticEvents(10));
    expect((await rig.pull()).state).toBe('done');
    const later = modern.requests.length;
    expect(ForwardResultSchema.parse((await rig.forward()).result)).toMatchObject({ forwarded: 10 });
    const next = modern.requests.slice(later).filter((r) => r.query.startsWith('INSERT'));
    expect(next.map((r) => [r.settings.insert_deduplicate, typeof r.settings.insert_deduplication_token])).toEqual([[undefined, 'string']]);
  });
});
