/**
 * Reconcile: what ClickHouse holds of each journal against what the device journaled, and
 * why anything is missing. ClickHouse answers count / distinct seq / min / max per
 * journal; the missing seqs are found in the server (windowed, so a huge journal never
 * travels to the laptop seq by seq), and each missing range is explained from what this
 * laptop knows: loss records (lost on the device), its contiguous watermark and the
 * device's last seq (not yet pulled), its own rows (not yet forwarded, quarantined,
 * discarded), and the device's first seq (handed to another courier or the uplink before
 * this laptop came). Rows forwarded and yet absent (deleted centrally, or on a replica
 * behind) are judged by what is present, whatever the server said when it took them: they
 * go back in the forward queue, to be sent again without deduplication (resendQueue.ts).
 *
 * The SQL uses only what ClickHouse 18.16 and current releases both understand.
 */
import { qualifiedTable } from '../../shared/clickhouseSchema.ts';
import type { MissingRange, MissingReason, ReconcileJournal, ReconcileResult } from '../../shared/courier.ts';
import { MissingReasonSchema } from '../../shared/courier.ts';
import { lossWords, reconcileVerdict, type DeviceHead } from '../../shared/courierVerdict.ts';
import { FieldkitError } from '../../shared/errors.ts';
import { courierTables } from './clickhouseSettingsStore.ts';
import type { Store } from '../kernel/store/openStore.ts';
import { describeClickHouseFailure, openClickHouse, type ClickHouseTarget } from './clickhouseConnection.ts';
import { createCourierStore, type CourierStore, type HeldRun, type JournalState } from './courierStore.ts';
import { createQuarantineStore, type QuarantineStore } from './quarantineStore.ts';
import { createResendQueue } from './resendQueue.ts';

/** The words for records ClickHouse confirmed once and no longer holds. */
export const GONE_FROM_CLICKHOUSE = 'confirmed by ClickHouse once, gone from it since (deleted there, or a replica behind); the next forward sends them again';

/** Seqs per window when looking for gaps: bounds the server's memory per query (8 bytes a seq). */
export const GAP_WINDOW = 1 << 22;

export type Range = { from: number; to: number };
export type RunQuery = <T>(sql: string) => Promise<T[]>;

/** A ClickHouse string literal (quotes and backslashes escaped), for ids that come from devices. */
export function sqlString(text: string): string {
  return `'${text.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;
}

/** Per journal: rows (with unmerged duplicates), distinct seqs, min and max. */
export function journalStatsSql(table: string, deviceIds: readonly string[]): string {
  return `SELECT device_id, journal_id, count() AS n, uniqExact(seq) AS d, min(seq) AS lo, max(seq) AS hi
FROM ${table} WHERE device_id IN (${deviceIds.map(sqlString).join(', ')})
GROUP BY device_id, journal_id`;
}

/** Per window of GAP_WINDOW seqs: distinct seqs, min and max (windows with no row are absent). */
export function windowStatsSql(table: string, deviceId: string, journalId: string): string {
  return `SELECT intDiv(seq - 1, ${GAP_WINDOW}) AS w, uniqExact(seq) AS d, min(seq) AS lo, max(seq) AS hi
FROM ${table} WHERE device_id = ${sqlString(deviceId)} AND journal_id = ${sqlString(journalId)} AND seq >= 1
GROUP BY w ORDER BY w`;
}

/** Pairs of neighbouring present seqs with a gap between them, inside [from, to]. */
export function windowGapsSql(table: string, deviceId: string, journalId: string, from: number, to: number): string {
  return `SELECT arrayFilter(p -> p.2 > p.1 + 1, arrayMap((a, b) -> (a, b), arrayPopBack(s), arrayPopFront(s))) AS gaps
FROM (SELECT arraySort(groupUniqArray(seq)) AS s FROM ${table}
  WHERE device_id = ${sqlString(deviceId)} AND journal_id = ${sqlString(journalId)} AND seq BETWEEN ${from} AND ${to})`;
}

type Num = number | string;

/** The seqs in [1, through] missing from ClickHouse, as sorted disjoint ranges. */
export async function findMissingRanges(query: RunQuery, table: string, deviceId: string, journalId: string, through: number): Promise<Range[]> {
  if (through < 1) return [];
  const windows = new Map<number, { d: number; lo: number; hi: number }>();
  for (const w of await query<{ w: Num; d: Num; lo: Num; hi: Num }>(windowStatsSql(table, deviceId, journalId))) {
    windows.set(Number(w.w), { d: Number(w.d), lo: Number(w.lo), hi: Number(w.hi) });
  }
  const missing: Range[] = [];
  const add = (from: number, to: number): void => {
    if (from > to) return;
    const last = missing.at(-1);
    if (last !== undefined && last.to + 1 >= from) last.to = Math.max(last.to, to);
    else missing.push({ from, to });
  };
  const lastWindow = Math.floor((through - 1) / GAP_WINDOW);
  for (let w = 0; w <= lastWindow; w++) {
    const from = w * GAP_WINDOW + 1;
    const to = Math.min(through, (w + 1) * GAP_WINDOW);
    const stats = windows.get(w);
    if (stats === undefined) {
      add(from, to);
      continue;
    }
    const hi = Math.min(stats.hi, to);
    // Every seq of the window present: nothing to look for.
    if (stats.lo === from && stats.hi >= to && stats.d >= to - from + 1) continue;
    add(from, stats.lo - 1);
    const [row] = await query<{ gaps: [Num, Num][] }>(windowGapsSql(table, deviceId, journalId, from, to));
    for (const [a, b] of row?.gaps ?? []) add(Number(a) + 1, Number(b) - 1);
    add(hi + 1, to);
  }
  return missing;
}

/** Sorted, disjoint, merged copy of `ranges`. */
export function unionRanges(ranges: readonly Range[]): Range[] {
  const sorted = [...ranges].sort((a, b) => a.from - b.from);
  const out: Range[] = [];
  for (const r of sorted) {
    const last = out.at(-1);
    if (last !== undefined && last.to + 1 >= r.from) last.to = Math.max(last.to, r.to);
    else out.push({ ...r });
  }
  return out;
}

/** One source of explanation: sorted disjoint ranges, each with its words. */
export type ExplanationLayer = { reason: MissingReason; ranges: readonly (Range & { detail: string })[] };

/**
 * Splits each missing range by the first layer that covers each part (layers in order of
 * precedence); what no layer covers gets `fallback`. Adjacent parts with the same reason
 * and words are joined.
 */
export function explainMissing(missing: readonly Range[], layers: readonly ExplanationLayer[], fallback: { reason: MissingReason; detail: string }): MissingRange[] {
  const out: MissingRange[] = [];
  const push = (from: number, to: number, reason: MissingReason, detail: string): void => {
    const last = out.at(-1);
    if (last !== undefined && last.to_seq + 1 === from && last.reason === reason && last.detail === detail) {
      last.to_seq = to;
      last.count += to - from + 1;
    } else {
      out.push({ from_seq: from, to_seq: to, count: to - from + 1, reason, detail });
    }
  };
  const explain = (from: number, to: number, depth: number): void => {
    const layer = layers[depth];
    if (layer === undefined) {
      push(from, to, fallback.reason, fallback.detail);
      return;
    }
    let cursor = from;
    // First range that ends at or after `from` (binary search: layers can hold many ranges).
    let lo = 0;
    let hi = layer.ranges.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((layer.ranges[mid]?.to ?? 0) < from) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo; i < layer.ranges.length && cursor <= to; i++) {
      const r = layer.ranges[i];
      if (r === undefined || r.from > to) break;
      if (r.from > cursor) explain(cursor, r.from - 1, depth + 1);
      const end = Math.min(to, r.to);
      push(Math.max(cursor, r.from), end, layer.reason, r.detail);
      cursor = end + 1;
    }
    if (cursor <= to) explain(cursor, to, depth + 1);
  };
  // Sorted order keeps `out` sorted: parts are pushed left to right.
  for (const m of missing) explain(m.from, m.to, 0);
  return out;
}

/** What this laptop knows about one journal, as explanation layers over [from, to]. */
export function explanationLayers(stores: { courier: CourierStore; quarantine: QuarantineStore }, journal: JournalState, from: number, to: number): ExplanationLayer[] {
  const runs = stores.courier.heldRuns(journal.device_id, journal.journal_id, from, to);
  const held = (state: HeldRun['state'], detail: string) => runs.filter((r) => r.state === state).map((r) => ({ from: r.from, to: r.to, detail }));
  const discarded = stores.quarantine.discardedRecords(journal.device_id, journal.journal_id, from, to);
  const losses = stores.courier.lossRanges(journal.device_id, journal.journal_id, from, to);
  // Loss ranges of different priorities overlap: merge them (a part keeps the first range's words).
  const lossRanges: (Range & { detail: string })[] = [];
  for (const l of losses) {
    const last = lossRanges.at(-1);
    if (last !== undefined && last.to + 1 >= l.from_seq) last.to = Math.max(last.to, l.to_seq);
    else lossRanges.push({ from: l.from_seq, to: l.to_seq, detail: lossWords(l.reason) });
  }
  const layers: ExplanationLayer[] = [
    { reason: 'not_yet_forwarded', ranges: held('pending', '') },
    { reason: 'quarantined', ranges: held('quarantined', '') },
    { reason: 'discarded', ranges: discarded.map((d) => ({ from: d.seq, to: d.seq, detail: d.reason ?? '' })) },
    // Confirmed once, absent now: judged by the rows present, never by the server's "OK";
    // reconcileJournals puts them back in the forward queue (resendQueue.ts).
    { reason: 'not_yet_forwarded', ranges: held('forwarded', GONE_FROM_CLICKHOUSE) },
    { reason: 'lost_on_device', ranges: lossRanges },
  ];
  if (journal.agent_last_seq > journal.contiguous_seq) {
    layers.push({ reason: 'not_yet_pulled', ranges: [{ from: journal.contiguous_seq + 1, to: journal.agent_last_seq, detail: '' }] });
  }
  if (journal.agent_first_seq > 1) {
    // Gone from the device without a loss record and never held here: the agent drops
    // silently only what another courier or its uplink confirmed.
    layers.push({ reason: 'held_by_other_courier', ranges: [{ from: 1, to: journal.agent_first_seq - 1, detail: 'confirmed by another courier or the uplink before this laptop pulled' }] });
  }
  return layers;
}

export type ReconcileOptions = {
  deviceId?: string;
  maxRanges: number;
  /** The device's latest seq from a word later than the pull (a live health sample), if any. */
  liveHead?: (journal: JournalState) => DeviceHead | null;
  nowMs?: number;
};

/**
 * The device's head estimated from a live health sample: the agent counts as backlog every
 * seq above what it was told is in ClickHouse (or above what retention dropped), so the head
 * is that mark, as last heard at the pull, plus the backlog. Another courier, the uplink or
 * retention may have moved the mark since, which only makes the estimate lower: "about".
 */
export function headFromBacklog(journal: Pick<JournalState, 'forwarded_reported_seq' | 'agent_first_seq' | 'agent_last_seq'>, backlogRecords: number): number {
  const base = journal.agent_first_seq > 0 ? Math.max(journal.forwarded_reported_seq, journal.agent_first_seq - 1) : journal.agent_last_seq;
  return base + backlogRecords;
}

/** Reconciles every journal this laptop knows (or one device's) against ClickHouse through `query`. */
export async function reconcileJournals(
  db: Store,
  query: RunQuery,
  table: string,
  options: ReconcileOptions,
): Promise<ReconcileJournal[]> {
  const nowMs = options.nowMs ?? Date.now();
  const courier = createCourierStore(db);
  const quarantine = createQuarantineStore(db);
  const resend = createResendQueue(db);
  const journals = courier.journals().filter((j) => options.deviceId === undefined || j.device_id === options.deviceId);
  if (journals.length === 0) return [];
  const stats = new Map<string, { n: number; d: number; lo: number; hi: number }>();
  const deviceIds = [...new Set(journals.map((j) => j.device_id))];
  for (const row of await query<{ device_id: string; journal_id: string; n: Num; d: Num; lo: Num; hi: Num }>(journalStatsSql(table, deviceIds))) {
    stats.set(`${row.device_id}\n${row.journal_id}`, { n: Number(row.n), d: Number(row.d), lo: Number(row.lo), hi: Number(row.hi) });
  }
  const perDevice = new Map<string, number>();
  for (const j of journals) perDevice.set(j.device_id, (perDevice.get(j.device_id) ?? 0) + 1);

  const results: ReconcileJournal[] = [];
  for (const journal of journals) {
    const s = stats.get(`${journal.device_id}\n${journal.journal_id}`) ?? { n: 0, d: 0, lo: 0, hi: 0 };
    const held = courier.maxHeldSeq(journal.device_id, journal.journal_id);
    // A loss record the laptop wrote for a failed device reaches past the device's last pulled head.
    const through = Math.max(journal.agent_last_seq, held, s.hi, courier.maxLostSeq(journal.device_id, journal.journal_id));
    const complete = s.d === through && s.lo === (through === 0 ? 0 : 1) && s.hi === through;
    const gaps = complete ? [] : await findMissingRanges(query, table, journal.device_id, journal.journal_id, through);
    const first = gaps[0];
    const last = gaps.at(-1);
    const explained = first === undefined || last === undefined ? [] : explainMissing(gaps, explanationLayers({ courier, quarantine }, journal, first.from, last.to), { reason: 'unknown', detail: '' });
    // What ClickHouse lost after confirming it goes back in this laptop's queue, to be sent without deduplication.
    resend.requeueAbsent(journal, explained.filter((m) => m.detail === GONE_FROM_CLICKHOUSE).map((m) => ({ from: m.from_seq, to: m.to_seq })));
    const byReason = Object.fromEntries(MissingReasonSchema.options.map((r) => [r, 0])) as Record<MissingReason, number>;
    for (const m of explained) byReason[m.reason] += m.count;
    const missingRecords = explained.reduce((n, m) => n + m.count, 0);
    const duplicates = Math.max(0, s.n - s.d);
    const label = (perDevice.get(journal.device_id) ?? 0) > 1 ? `${journal.device_id} (journal ${journal.journal_id.slice(0, 8)})` : journal.device_id;
    const pulledHead: DeviceHead = { seq: Math.max(journal.agent_last_seq, journal.contiguous_seq), atMs: journal.last_pull_ms, source: 'pull' };
    const live = options.liveHead?.(journal) ?? null;
    // Only a later word than the pull, and only one that says more than reconcile checked, changes the verdict.
    const beyond = live !== null && live.atMs > journal.last_pull_ms && live.seq > through ? { ...live, records: live.seq - through } : null;
    const verdict = reconcileVerdict({
      label,
      missing: explained,
      duplicates,
      completeThrough: first === undefined ? through : first.from - 1,
      lastPullMs: journal.last_pull_ms,
      headBeyond: beyond,
      nowMs,
    });
    const head = beyond ?? pulledHead;
    results.push({
      device_id: journal.device_id,
      journal_id: journal.journal_id,
      device_ref: journal.device_ref,
      status: verdict.status,
      badge: verdict.badge,
      verdict: verdict.text,
      expected_through: through,
      complete_through_seq: first === undefined ? through : first.from - 1,
      last_pull_ms: journal.last_pull_ms,
      device_head: { seq: head.seq, at_ms: head.atMs, source: head.source },
      not_yet_pulled: verdict.notYetPulled,
      not_yet_pulled_estimated: verdict.estimated,
      clickhouse: { count: s.n, distinct: s.d, min_seq: s.lo, max_seq: s.hi },
      duplicates_awaiting_merge: duplicates,
      missing_records: missingRecords,
      missing_by_reason: byReason,
      missing: explained.slice(0, options.maxRanges),
      missing_ranges_total: explained.length,
      summary: verdict.sentence,
    });
  }
  return results;
}

/** courier.reconcile: reconciles against the configured server. */
export async function reconcileWithClickHouse(db: Store, target: ClickHouseTarget, options: ReconcileOptions): Promise<ReconcileResult> {
  const connection = openClickHouse(target);
  try {
    const signal = AbortSignal.timeout(120_000);
    const serverVersion = await connection.serverVersion(signal);
    const names = courierTables(target.settings);
    if (!(await connection.tablesExist(signal))) {
      // Nothing forwarded yet: every journal is missing in full, and reconcile says why.
      const journals = await reconcileJournals(db, () => Promise.resolve([]), connection.table, options);
      return { checkedMs: Date.now(), serverVersion, table: `${target.settings.database}.${names.table}`, journals };
    }
    const journals = await reconcileJournals(db, (sql) => connection.queryRows(sql, signal), qualifiedTable(target.settings.database, names.table), options);
    return { checkedMs: Date.now(), serverVersion, table: `${target.settings.database}.${names.table}`, journals };
  } catch (error) {
    if (error instanceof FieldkitError) throw error;
    throw new FieldkitError(describeClickHouseFailure(error, connection.url).error, { cause: error });
  } finally {
    await connection.close();
  }
}
