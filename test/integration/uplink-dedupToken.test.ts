/**
 * What the uplink puts on the wire for a current ClickHouse (22.2+), which cannot run as an
 * HTTP server here (chdb embeds the engine without one): a small HTTP server answers as
 * ClickHouse 24.8 does — version, then inserts — and records each request, so the test sees
 * the deduplication token, the batch boundaries on a retry, gzip bodies and named columns.
 * The 18.16 side (no token, since it would refuse one) runs against the real server in
 * uplink-forward.test.ts.
 */
import { createServer } from 'node:http';
import type { IncomingMessage, Server } from 'node:http';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { openJournalForConfig } from '../../agent/journal/openJournal.ts';
import { startUplink } from '../../agent/uplink/uplink.ts';
import { AgentConfigSchema } from '../../shared/agentConfig.ts';
import { TELEMETRY_INSERT_COLUMNS } from '../../shared/clickhouseSchema.ts';
import { makeTempDir } from '../support/tempDir.ts';

type Seen = { query: string; token: string | null; encoding: string | undefined; seqs: number[]; status: number };

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

async function body(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Answers like ClickHouse 24.8's HTTP interface; fails the first `failFirst` inserts after reading them (an answer lost after the data landed). */
async function startModernClickHouse(failFirst: number): Promise<{ url: string; seen: Seen[]; server: Server }> {
  const seen: Seen[] = [];
  let failures = 0;
  const server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const raw = await body(req);
      const query = url.searchParams.get('query') ?? raw.toString('utf8');
      if (/SELECT version\(\)/.test(query)) {
        res.writeHead(200, { 'content-type': 'text/plain; charset=UTF-8', 'x-clickhouse-format': 'JSONEachRow' });
        res.end('{"version":"24.8.4.13"}\n');
        return;
      }
      const text = req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw).toString('utf8') : raw.toString('utf8');
      const seqs = text.split('\n').filter((l) => l !== '').map((l) => (JSON.parse(l) as { seq: number }).seq);
      const status = query.includes('telemetry_loss') || failures >= failFirst ? 200 : 500;
      if (status === 500) failures += 1;
      seen.push({ query, token: url.searchParams.get('insert_deduplication_token'), encoding: req.headers['content-encoding'], seqs, status });
      res.writeHead(status, { 'content-type': 'text/plain; charset=UTF-8' });
      res.end(status === 200 ? '' : 'Code: 210. DB::NetException: Connection reset by peer, while writing to socket. (NETWORK_ERROR) (version 24.8.4.13 (official build))\n');
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  cleanups.push(() => new Promise<void>((resolve) => { server.close(() => { resolve(); }); server.closeAllConnections(); }));
  return { url: `http://127.0.0.1:${String(port)}/`, seen, server };
}

describe('uplink on a ClickHouse that knows insert_deduplication_token', () => {
  it('sends a deterministic token per batch and retries a failed batch with the same boundaries and token', async () => {
    const ch = await startModernClickHouse(1);
    const tmp = makeTempDir('fieldkit-uplink-token-');
    const config = AgentConfigSchema.parse({ device_id: 'pi-07', data_dir: join(tmp.path, 'data'), uplink: { url: ch.url, batch_rows: 2000 } });
    const journal = openJournalForConfig(config);
    journal.append(Array.from({ length: 5000 }, (_, i) => ({ priority: 3 as const, kind: 'inference', payload: { latency_ms: i % 50 } })), Date.now());
    // Long backoff: the retry below is the test's, not the loop's.
    const uplink = startUplink({ config, journal, pollMs: 60_000, backoff: { initialMs: 60_000, maxMs: 60_000 } });
    cleanups.push(async () => {
      await uplink.stop();
      journal.close();
      tmp.remove();
    });

    for (let i = 0; i < 500 && uplink.status().state !== 'backoff'; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(uplink.status().state).toBe('backoff');
    expect(uplink.status().last_error).toMatch(/did not accept the batch.*NETWORK_ERROR/);
    expect(journal.info().forwarded_seq).toBe(0);

    const result = await uplink.forwardNow();
    expect(result).toEqual({ ok: true, value: { records: 5000, losses: 0, through_seq: 5000 } });
    expect(journal.info().forwarded_seq).toBe(5000);
    expect(uplink.status()).toMatchObject({ server_version: '24.8.4.13', last_error: null, forwarded_seq: 5000 });

    const j = journal.journalId;
    expect(ch.seen.map((s) => [s.status, s.token, s.seqs[0], s.seqs.at(-1), s.seqs.length])).toEqual([
      [500, `pi-07:${j}:1-2000`, 1, 2000, 2000],
      [200, `pi-07:${j}:1-2000`, 1, 2000, 2000],
      [200, `pi-07:${j}:2001-4000`, 2001, 4000, 2000],
      [200, `pi-07:${j}:4001-5000`, 4001, 5000, 1000],
    ]);
    for (const s of ch.seen) {
      expect(s.encoding).toBe('gzip');
      expect(s.query).toBe(`INSERT INTO \`telemetry\` (${TELEMETRY_INSERT_COLUMNS.join(', ')}) FORMAT JSONEachRow`);
    }
  });
});
