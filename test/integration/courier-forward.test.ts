/**
 * Forward and reconcile against a real ClickHouse 18.16 (Debian's server, over HTTP), with
 * real agents pulled over the Local link. After every fault — the app killed -9 mid-forward,
 * the server killed mid-forward — the end state is the same: ClickHouse FINAL holds every
 * record once, and reconcile says complete. clickhouse-client (native protocol) is the oracle.
 */
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ForwardResultSchema } from '../../shared/courier.ts';
import { PullResultSchema } from '../../shared/courier.ts';
import { syntheticEvents } from '../support/agentEvents.ts';
import { startClickHouseServer, type ClickHouseServer } from '../support/clickhouseServer.ts';
import { startCourierRig, type CourierRig } from '../support/courierRig.ts';
import { cliEntry } from '../support/runCliProcess.ts';

let server: ClickHouseServer;
beforeAll(async () => {
  server = await startClickHouseServer();
});
afterAll(async () => {
  await server.stop();
});

/** count (rows before merges), FINAL count and distinct seqs of one device in `table`. */
async function inClickHouse(table: string, deviceId: string): Promise<{ raw: number; final: number; distinct: number; min: number; max: number }> {
  const [raw, final, distinct, min, max] = (
    await server.client(`SELECT (SELECT count() FROM ${table} WHERE device_id = '${deviceId}'), count(), uniqExact(seq), min(seq), max(seq) FROM ${table} FINAL WHERE device_id = '${deviceId}'`)
  )
    .trim()
    .split('\t')
    .map(Number);
  return { raw: raw ?? -1, final: final ?? -1, distinct: distinct ?? -1, min: min ?? -1, max: max ?? -1 };
}

async function until(condition: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 15));
  }
}

/**
 * Waits until `n` records of the running forward `jobId` are marked. A job that ends first
 * fails the wait with its own state and error, at once, rather than as a bare timeout. The
 * bound is wide because the courier test files run beside each other and other work on two
 * shared cores: the job's worker starting, its tables created and a first batch of 10k sent
 * and marked took over 30 s there, while the same test alone takes about 2 s.
 */
async function untilForwarded(rig: CourierRig, jobId: string, n: number): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (rig.held().forwarded < n) {
    const job = rig.services.jobs.get(jobId);
    if (job !== null && job.endedAt !== null && rig.held().forwarded < n) {
      throw new Error(`The forward ended (${job.state}) before ${n} records were marked: ${job.error === null ? 'no error' : `${job.error.code} ${job.error.message}`}`);
    }
    if (Date.now() > deadline) throw new Error(`${n} records not marked within 120 s; the job is ${job?.state ?? 'unknown'}, phase ${JSON.stringify(job?.progress ?? null)}`);
    await new Promise((resolve) => setTimeout(resolve, 15));
  }
}

describe('courier forward to ClickHouse 18.16', () => {
  let rig: CourierRig;
  const total = 100_000;
  beforeAll(async () => {
    rig = await startCourierRig({ deviceId: 'pi-07' });
    rig.ingest(syntheticEvents(total));
    const pulled = await rig.pull();
    expect(pulled.state).toBe('done');
  });
  afterAll(async () => {
    await rig.close();
  });

  it('refuses to forward before a server is set, saying how to set one', async () => {
    await expect(rig.services.handlers['courier.forward']({ retryForSeconds: 60 })).rejects.toMatchObject({ appError: { code: 'NOT_FOUND' } });
    expect((await rig.services.handlers['settings.clickhouse.get']({})).settings).toBeNull();
  });

  it('tests the connection: version, no dedup tokens on 18.16, tables not there yet', async () => {
    const { settings } = await rig.services.handlers['settings.clickhouse.set']({ url: server.url, table: 'fwd_once', password: '' });
    expect(settings).toMatchObject({ url: server.url, user: 'default', database: 'default', table: 'fwd_once', passwordSet: true, batchRows: 50_000 });
    const test = await rig.services.handlers['settings.clickhouse.test']({});
    expect(test).toMatchObject({ version: expect.stringMatching(/^18\.16\./) as unknown, dedupTokens: false, tablesExist: false });
  });

  it('forwards every record exactly once in 50k batches, and reconcile says complete', async () => {
    const job = await rig.forward();
    expect(job.error).toBeNull();
    const result = ForwardResultSchema.parse(job.result);
    expect(result).toMatchObject({ forwarded: total, batches: 2, quarantined: 0, pending: 0, dedupTokens: false });
    expect(job.progress).toMatchObject({ unit: 'items', bytesDone: total, bytesTotal: total });
    expect(await inClickHouse('fwd_once', 'pi-07')).toEqual({ raw: total, final: total, distinct: total, min: 1, max: total });
    // 18.16 fills inserted_at from its DEFAULT only because the columns were named.
    expect((await server.client(`SELECT countIf(inserted_at < toDateTime('2001-01-01 00:00:00')) FROM fwd_once`)).trim()).toBe('0');
    expect(rig.held()).toMatchObject({ n: total, forwarded: total, pending: 0 });

    const again = ForwardResultSchema.parse((await rig.forward()).result);
    expect(again.forwarded).toBe(0);

    const reconcile = await rig.services.handlers['courier.reconcile']({ maxRanges: 100 });
    expect(reconcile.serverVersion).toMatch(/^18\.16\./);
    expect(reconcile.journals).toHaveLength(1);
    expect(reconcile.journals[0]).toMatchObject({
      device_id: 'pi-07',
      status: 'complete',
      expected_through: total,
      clickhouse: { count: total, distinct: total, min_seq: 1, max_seq: total },
      duplicates_awaiting_merge: 0,
      missing: [],
    });
    expect(reconcile.journals[0]?.summary).toMatch(new RegExp(`^pi-07: complete through seq ${total}, all the device had when pulled (just now|\\d+ s ago)$`));
  });

  it('tells the agent on the next pull what reached ClickHouse (forwarded.ack)', async () => {
    expect(rig.agentJournal().forwarded_seq).toBe(0);
    const pull = PullResultSchema.parse((await rig.pull()).result);
    expect(pull.journals[0]?.forwarded_reported).toBe(total);
    expect(rig.agentJournal().forwarded_seq).toBe(total);
    const { journals } = await rig.services.handlers['courier.status']({});
    expect(journals[0]).toMatchObject({ held: total, pending_forward: 0, forwarded_reported_seq: total, quarantined: 0 });
    expect(journals[0]?.last_forward_ms).toBeGreaterThan(0);
  });

  it('cancels between batches: what landed is marked, a second forward meanwhile is refused, the next forward sends the rest once', async () => {
    await rig.services.handlers['settings.clickhouse.set']({ table: 'fwd_cancel' });
    const db = (await import('better-sqlite3')).default;
    const writable = new db(`${rig.dataDir}/fieldkit.db`);
    writable.prepare('UPDATE courier_records SET forwarded_ms = NULL').run();
    writable.close();

    const { jobId } = await rig.services.handlers['courier.forward']({ batchRows: 10_000, retryForSeconds: 60 });
    await expect(rig.services.handlers['courier.forward']({ retryForSeconds: 60 })).rejects.toMatchObject({ appError: { code: 'CONFLICT' } });
    await until(() => rig.held().forwarded >= 10_000);
    const cancelled = await rig.services.jobs.cancel(jobId);
    expect(cancelled.state).toBe('cancelled');
    const cut = rig.held();
    expect(cut.forwarded % 10_000).toBe(0);
    expect(cut.forwarded).toBeLessThan(total);
    const landed = await inClickHouse('fwd_cancel', 'pi-07');
    expect(landed).toMatchObject({ raw: cut.forwarded, distinct: cut.forwarded, min: 1, max: cut.forwarded });

    const rest = await rig.forward({ batchRows: 10_000 });
    expect(ForwardResultSchema.parse(rest.result).forwarded).toBe(total - cut.forwarded);
    expect(await inClickHouse('fwd_cancel', 'pi-07')).toEqual({ raw: total, final: total, distinct: total, min: 1, max: total });
  });

  it('survives kill -9 of the app (CLI and worker) mid-forward: the next forward completes, each row once', async () => {
    await rig.services.handlers['settings.clickhouse.set']({ table: 'fwd_kill' });
    // Everything held becomes pending again for this table: the same rows, a new destination.
    const db = (await import('better-sqlite3')).default;
    const writable = new db(`${rig.dataDir}/fieldkit.db`);
    writable.prepare('UPDATE courier_records SET forwarded_ms = NULL').run();
    writable.close();

    const cli = spawn(process.execPath, [cliEntry, '--data-dir', rig.dataDir, 'forward', '--batch-rows', '10000'], { detached: true, stdio: 'ignore' });
    await until(() => rig.held().forwarded >= 20_000);
    // The whole process group at once: the CLI and its job worker die together, as in a power cut.
    process.kill(-(cli.pid ?? 0), 'SIGKILL');
    await new Promise((resolve) => cli.once('exit', resolve));
    const cut = rig.held();
    expect(cut.forwarded).toBeGreaterThanOrEqual(20_000);
    expect(cut.forwarded).toBeLessThan(total);
    const landed = await inClickHouse('fwd_kill', 'pi-07');
    // Marked forwarded only after the server acknowledged: never ahead of ClickHouse.
    expect(landed.distinct).toBeGreaterThanOrEqual(cut.forwarded);

    const resumed = await rig.forward({ batchRows: 10_000 });
    expect(resumed.error).toBeNull();
    expect(ForwardResultSchema.parse(resumed.result).forwarded).toBe(total - cut.forwarded);
    const after = await inClickHouse('fwd_kill', 'pi-07');
    expect(after).toMatchObject({ final: total, distinct: total, min: 1, max: total });
    // At most the batch in flight was sent twice.
    expect(after.raw - total).toBeLessThanOrEqual(10_000);
    const [journal] = (await rig.services.handlers['courier.reconcile']({ maxRanges: 100 })).journals;
    expect(journal).toMatchObject({ status: 'complete', duplicates_awaiting_merge: after.raw - total });
    expect(journal?.summary).toMatch(/^pi-07: complete/);
  });

  it('waits out a ClickHouse restart within its retry bound, and gives up with UNAVAILABLE beyond it; nothing lost or doubled', async () => {
    await rig.services.handlers['settings.clickhouse.set']({ table: 'fwd_restart' });
    const db = (await import('better-sqlite3')).default;
    const reset = (): void => {
      const writable = new db(`${rig.dataDir}/fieldkit.db`);
      writable.prepare('UPDATE courier_records SET forwarded_ms = NULL').run();
      writable.close();
    };
    reset();

    // Within the bound: the server comes back after a second; the same job finishes.
    const { jobId } = await rig.services.handlers['courier.forward']({ batchRows: 10_000, retryForSeconds: 60 });
    await untilForwarded(rig, jobId, 10_000);
    await server.kill();
    await new Promise((resolve) => setTimeout(resolve, 1000)); // the outage under test: a second with no server
    await server.start();
    const waited = await rig.services.jobs.whenFinished(jobId);
    expect(waited.error).toBeNull();
    const waitedResult = ForwardResultSchema.parse(waited.result);
    expect(waitedResult.retries).toBeGreaterThan(0);
    expect(waited.log.some((l) => l.level === 'warn' && /not reachable/.test(l.message))).toBe(true);
    expect(await inClickHouse('fwd_restart', 'pi-07')).toMatchObject({ final: total, distinct: total });

    // Beyond the bound: the job fails, says so, and the next forward completes.
    await rig.services.handlers['settings.clickhouse.set']({ table: 'fwd_down' });
    reset();
    const second = await rig.services.handlers['courier.forward']({ batchRows: 10_000, retryForSeconds: 2 });
    await untilForwarded(rig, second.jobId, 10_000);
    await server.kill();
    const failed = await rig.services.jobs.whenFinished(second.jobId);
    expect(failed.state).toBe('failed');
    expect(failed.error).toMatchObject({ code: 'UNAVAILABLE', message: expect.stringMatching(/not reachable[\s\S]*Gave up after/) as unknown });
    expect(failed.error?.hint).toMatch(/resumes where this one stopped/);
    const stranded = rig.held();
    expect(stranded.pending).toBeGreaterThan(0);
    await server.start();
    const finished = await rig.forward({ batchRows: 10_000 });
    expect(finished.error).toBeNull();
    expect(ForwardResultSchema.parse(finished.result).forwarded).toBe(stranded.pending);
    expect(await inClickHouse('fwd_down', 'pi-07')).toMatchObject({ final: total, distinct: total, min: 1, max: total });
    expect((await rig.services.handlers['courier.reconcile']({ maxRanges: 10 })).journals[0]?.status).toBe('complete');
  }, 300_000); // two waits of up to 120 s each (untilForwarded) and two forwards, under load
});
