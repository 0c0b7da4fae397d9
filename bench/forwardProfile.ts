/**
 * Where the forward's time goes, stage by stage, on the bench's data (bench/courierForward.ts):
 * `node bench/forwardProfile.ts`. Not part of `npm run bench`: a tool for changing the forward.
 *
 * Each stage runs alone, on this thread, three times (best taken), in CPU and wall time
 * (CPU time says more than wall time on a busy machine):
 * - SQLite: building the batches' bodies as JSONEachRow (the old format) and as TabSeparated;
 * - gzip level 1 of each body;
 * - the HTTP insert of each body into ClickHouse 18.16, gzipped or not;
 * - marking the rows forwarded, batch by batch.
 */
import { gzipSync } from 'node:zlib';
import { join } from 'node:path';
import { createForwardQueue } from '../electron/courier/courierStore.ts';
import { openStore } from '../electron/kernel/store/openStore.ts';
import { telemetryTableDdl, TELEMETRY_INSERT_COLUMNS } from '../shared/clickhouseSchema.ts';
import { startClickHouseServer } from '../test/support/clickhouseServer.ts';
import { makeTempDir } from '../test/support/tempDir.ts';
import { fillLaptopStore } from './courierForward.ts';

const batchRows = 50_000;
const journal = { device_id: 'bench-pi', journal_id: 'j-bench' };

type Cost = { cpuMs: number; wallMs: number };

async function best(work: () => unknown, before?: () => void): Promise<Cost> {
  let cost: Cost = { cpuMs: Infinity, wallMs: Infinity };
  for (let round = 0; round < 3; round++) {
    before?.();
    const cpu = process.cpuUsage();
    const start = performance.now();
    await work();
    const used = process.cpuUsage(cpu);
    cost = { cpuMs: Math.min(cost.cpuMs, (used.user + used.system) / 1000), wallMs: Math.min(cost.wallMs, performance.now() - start) };
  }
  return cost;
}

function say(stage: string, cost: Cost, extra = ''): void {
  console.log(`  ${stage.padEnd(40)} cpu ${String(Math.round(cost.cpuMs)).padStart(6)} ms   wall ${String(Math.round(cost.wallMs)).padStart(6)} ms ${extra}`);
}

const dir = makeTempDir('fieldkit-forward-profile-');
const server = await startClickHouseServer();
try {
  const dataDir = join(dir.path, 'data');
  fillLaptopStore(dataDir);
  const db = openStore(dataDir);
  const queue = createForwardQueue(db);
  const jsonLine = `json_object(${TELEMETRY_INSERT_COLUMNS.map((c) => `'${c}', ${c}`).join(', ')}) || char(10)`;
  const selectJson = db.prepare(
    `SELECT count(*) AS n, max(seq) AS last, string_agg(line, '' ORDER BY seq) AS body FROM (SELECT seq, ${jsonLine} AS line FROM courier_records
     WHERE device_id = ? AND journal_id = ? AND seq > ? AND forwarded_ms IS NULL AND quarantine_state IS NULL ORDER BY seq LIMIT ${batchRows})`,
  );
  const bodies: Record<'JSONEachRow' | 'TabSeparated', string[]> = { JSONEachRow: [], TabSeparated: [] };
  const rows = db.prepare('SELECT count(*) FROM courier_records').pluck().get() as number;
  console.log(`forward stages, ${rows.toLocaleString('en-US')} rows in batches of ${batchRows.toLocaleString('en-US')}, best of 3:`);
  say('SQLite → JSONEachRow (before)', await best(() => {
    bodies.JSONEachRow = [];
    for (let after = 0; ; ) {
      const batch = selectJson.get(journal.device_id, journal.journal_id, after) as { n: number; last: number; body: string };
      if (batch.n === 0) break;
      bodies.JSONEachRow.push(batch.body);
      after = batch.last;
    }
  }));
  say('SQLite → TabSeparated (now)', await best(() => {
    bodies.TabSeparated = [];
    for (let after = 0; ; ) {
      const batch = queue.recordBatch({ ...journal, after, through: Number.MAX_SAFE_INTEGER, limit: batchRows });
      if (batch === null) break;
      bodies.TabSeparated.push(batch.body);
      after = batch.last;
    }
  }));
  for (const format of ['JSONEachRow', 'TabSeparated'] as const) {
    const raw = bodies[format].map((b) => Buffer.from(b, 'utf8'));
    let gzipped: Buffer[] = [];
    const size = (buffers: Buffer[]): string => `${(buffers.reduce((n, b) => n + b.length, 0) / 1e6).toFixed(1)} MB`;
    say(`gzip -1 of ${format}`, await best(() => (gzipped = raw.map((b) => gzipSync(b, { level: 1 })))), `${size(raw)} → ${size(gzipped)}`);
    for (const [label, payload, headers] of [['gzipped', gzipped, { 'Content-Encoding': 'gzip' }], ['plain', raw, {}]] as const) {
      let round = 0;
      say(`HTTP insert, ${format}, ${label}`, await best(async () => {
        const table = `profile_${format}_${label}_${round++}`;
        await server.query(telemetryTableDdl({ table }));
        const query = encodeURIComponent(`INSERT INTO ${table} (${TELEMETRY_INSERT_COLUMNS.join(', ')}) FORMAT ${format}`);
        for (const body of payload) {
          const response = await fetch(`${server.url}?query=${query}`, { method: 'POST', body, headers });
          const text = await response.text();
          if (!response.ok) throw new Error(text);
        }
      }), '(the server works in its own process)');
    }
  }
  const unmark = db.prepare('UPDATE courier_records SET forwarded_ms = NULL');
  say('marking forwarded, batch by batch', await best(() => {
    for (let from = 1; from <= rows; from += batchRows) queue.markRecordsForwarded(journal.device_id, journal.journal_id, [[from, from + batchRows - 1]], Date.now());
  }, () => unmark.run()));
  db.close();
} finally {
  await server.stop();
  dir.remove();
}
