/**
 * A restore of the state class onto the SAME device (virtual site Pi, restic, the deployed
 * agent, ClickHouse 18.16): the restore rewinds the device's journal to the point's seq, and
 * the agent must never write new records under seqs of that journal id that already named
 * other records (pulled, forwarded, in the undo backup). Ingest, pull, back up, ingest, pull,
 * ingest (not pulled), restore the backup, ingest, pull, forward: no (journal_id, seq) names
 * two different records, the new journal continues the restored one, and reconcile names the
 * seqs the laptop never got as rewound by the restore.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppServices } from '../../electron/app/appServices.ts';
import { openStore } from '../../electron/kernel/store/openStore.ts';
import { BackupRunResultSchema } from '../../shared/backup.ts';
import { RestoreResultSchema } from '../../shared/recovery.ts';
import { startClickHouseServer, type ClickHouseServer } from '../support/clickhouseServer.ts';
import { onPi } from '../support/deployRig.ts';
import { startRolloutSite, type RolloutSite } from '../support/rolloutSite.ts';
import type { VirtualPi } from '../support/virtualSite.ts';

let rollout: RolloutSite;
let server: ClickHouseServer;
let services: AppServices | null = null;
let pi: VirtualPi;
let deviceRef = '';
const asAgent = 'sudo -n -u fieldkit-agent /opt/fieldkit-agent/current/bin/fieldkit-agent';

type Held = { journal_id: string; seq: number; kind: string; payload: string };

function app(): AppServices {
  if (services === null) throw new Error('services closed');
  return services;
}

async function journalOf(): Promise<{ journal_id: string; last_seq: number }> {
  return (JSON.parse(await onPi(pi, `${asAgent} status --json`)) as { journal: { journal_id: string; last_seq: number } }).journal;
}

/** `count` events of one phase, each naming its phase and number: two records never have the same payload. */
async function ingest(phase: string, count: number): Promise<void> {
  await onPi(pi, `for i in $(seq 1 ${String(count)}); do printf '{"priority":2,"kind":"rewind.test","payload":{"phase":"${phase}","n":%d}}\\n' "$i"; done | ${asAgent} ingest`);
}

async function pull(): Promise<void> {
  const record = await app().jobs.whenFinished((await app().handlers['courier.pull']({ id: deviceRef })).jobId);
  expect(record.state, record.error?.message).toBe('done');
}

function rows<T>(sql: string): T[] {
  const db = openStore(rollout.dataDir);
  try {
    return db.prepare(sql).all() as T[];
  } finally {
    db.close();
  }
}

/** The device's current journal, every record (`fieldkit-agent export`). */
async function deviceRecords(): Promise<Held[]> {
  const out = await onPi(pi, `${asAgent} export --limit 100000`);
  return out.trim().split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Held);
}

beforeAll(async () => {
  server = await startClickHouseServer();
  rollout = await startRolloutSite({ count: 1, name: 'rw' });
  const [first] = rollout.site.pis;
  if (first === undefined) throw new Error('no Pi');
  pi = first;
  services = await rollout.open();
  await app().handlers['settings.clickhouse.set']({ url: server.url, table: 'rewind' });
  deviceRef = (await app().handlers['devices.list']({})).devices.find((d) => d.name === pi.name)?.id ?? '';
}, 600_000);

afterAll(async () => {
  await services?.close();
  await rollout.stop();
  await server.stop();
});

describe('a state restore onto the same device', () => {
  it('never reuses a (journal_id, seq): the agent goes on in a new journal naming the restored one, and reconcile names what was rewound', async () => {
    await ingest('A', 100);
    await pull();
    const backup = await app().jobs.whenFinished((await app().handlers['backup.start']({ deviceIds: [deviceRef] })).jobId);
    expect(backup.state, backup.error?.message).toBe('done');
    expect(BackupRunResultSchema.parse(backup.result).items.map((i) => i.status)).not.toContain('failed');
    const points = (await app().handlers['recovery.points']({ deviceId: deviceRef })).points;
    expect(points).toHaveLength(1);
    const point = points[0];
    const runId = point?.id ?? '';
    const restoredSeq = point?.classes.find((c) => c.class === 'state')?.journalLastSeq ?? 0;
    expect(restoredSeq).toBeGreaterThanOrEqual(100);
    await ingest('B', 100);
    await pull();
    // Journaled on the device, never pulled: only the device (and the restore's undo backup) hold these.
    await ingest('C', 50);
    const before = await journalOf();
    const pulledThrough = Math.max(...rows<Held>(`SELECT seq FROM courier_records WHERE journal_id = '${before.journal_id}'`).map((r) => r.seq));
    expect(before.last_seq).toBe(pulledThrough + 50);

    const restore = await app().jobs.whenFinished((await app().handlers['recovery.restore']({ deviceId: deviceRef, pointId: runId, classes: ['state'] })).jobId);
    expect(restore.state, restore.error?.message).toBe('done');
    const result = RestoreResultSchema.parse(restore.result);
    expect(result.checks.map((c) => [c.name, c.ok])).toEqual([['hello', true], ['journal', true], ['ingest', true], ['health', true]]);
    expect(result.steps.find((s) => s.name === 'journal-continuity')?.detail).toMatch(/rewound by this restore/);

    // The agent writes a new journal whose seq 1 names the restored one and the last seq it holds.
    const after = await journalOf();
    expect(after.journal_id).not.toBe(before.journal_id);
    await ingest('D', 30);
    const onDevice = await deviceRecords();
    expect(onDevice[0]).toMatchObject({ seq: 1, kind: 'journal.replaces' });
    expect(JSON.parse(onDevice[0]?.payload ?? '{}')).toEqual({ replaces_journal_id: before.journal_id, last_known_seq: restoredSeq });
    expect(onDevice.filter((r) => r.payload.includes('"phase":"D"'))).toHaveLength(30);
    await pull();

    // No key names two records: every record the device holds is the one the laptop holds under its key,
    // and the laptop's records of the rewound journal are still the ones it pulled before the restore.
    const laptop = new Map(rows<Held>('SELECT journal_id, seq, kind, payload FROM courier_records').map((r) => [`${r.journal_id}/${String(r.seq)}`, r]));
    for (const r of onDevice) expect(laptop.get(`${after.journal_id}/${String(r.seq)}`)?.payload, `seq ${String(r.seq)}`).toBe(r.payload);
    const old = rows<Held>(`SELECT journal_id, seq, kind, payload FROM courier_records WHERE journal_id = '${before.journal_id}' ORDER BY seq`);
    expect(old.filter((r) => r.payload.includes('"phase":"B"'))).toHaveLength(100);
    expect(old.filter((r) => /"phase":"[CD]"/.test(r.payload))).toHaveLength(0);
    expect(old.at(-1)?.seq).toBe(pulledThrough);

    // What the laptop never pulled is recorded, once, as rewound; the undo backup holds it.
    const losses = rows<{ journal_id: string; from_seq: number; to_seq: number; reason: string }>(`SELECT journal_id, from_seq, to_seq, reason FROM courier_losses WHERE device_id = '${pi.name}'`);
    expect(losses).toEqual([{ journal_id: before.journal_id, from_seq: pulledThrough + 1, to_seq: before.last_seq, reason: 'rewound_by_restore' }]);
    const undo = (await app().handlers['recovery.points']({ deviceId: deviceRef })).points.find((p) => p.id === result.undoPointId);
    expect(undo?.classes.find((c) => c.class === 'state')?.journalLastSeq).toBe(before.last_seq);

    const forward = await app().jobs.whenFinished((await app().handlers['courier.forward']({ retryForSeconds: 60 })).jobId);
    expect(forward.state, forward.error?.message).toBe('done');
    const { journals } = await app().handlers['courier.reconcile']({ maxRanges: 10 });
    const rewound = journals.find((j) => j.journal_id === before.journal_id);
    expect(rewound?.summary).toBe(`${pi.name} (journal ${before.journal_id.slice(0, 8)}): complete through seq ${String(pulledThrough)}; seq ${String(pulledThrough + 1)}-${String(before.last_seq)} missing (rewound by a restore of the device; see its undo backup)`);
    expect(journals.find((j) => j.journal_id === after.journal_id)).toMatchObject({ status: 'complete' });
    // ClickHouse holds one record per key, and the rewound journal's records are the pulled ones.
    const phases = (await server.client(`SELECT countIf(payload LIKE '%"phase":"B"%'), countIf(payload LIKE '%"phase":"D"%') FROM rewind WHERE journal_id = '${before.journal_id}' FORMAT TSV`)).trim();
    expect(phases).toBe('100\t0');
  }, 900_000);
});
