/**
 * The current ClickHouse engine (chdb, embedded) behind the HTTP interface, so the courier's
 * real @clickhouse/client path runs against a modern server here: chdb has no HTTP server
 * of its own. It speaks the part of ClickHouse's HTTP protocol the client uses — the query
 * in the body or in `?query=` with the data in the body (gzip or not), settings as URL
 * parameters — and answers errors as the server does (status 500, "Code: N. DB::Exception:
 * …"). Every request is recorded; `loseNextInsertAnswer()` executes the next insert and
 * then drops the connection, as when an answer is lost after the data landed.
 */
import { createServer, type IncomingMessage } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { Session } from 'chdb';
import { makeTempDir } from './tempDir.ts';

export type ChdbRequest = { query: string; settings: Record<string, string>; rows: number; status: number };

export type ChdbHttp = {
  url: string;
  session: Session;
  requests: ChdbRequest[];
  /** Runs SQL in the engine directly (the test's oracle), TSV out. */
  sql(query: string): string;
  loseNextInsertAnswer(): void;
  stop(): Promise<void>;
};

/** URL parameters the client sends that are not settings. */
const CLIENT_PARAMS = new Set(['query', 'query_id', 'database', 'session_id', 'role', 'default_format', 'user', 'password']);

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const raw = Buffer.concat(chunks);
  return req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw;
}

function settingsClause(settings: Record<string, string>): string {
  const entries = Object.entries(settings);
  if (entries.length === 0) return '';
  return ` SETTINGS ${entries.map(([k, v]) => `${k} = ${/^-?\d+(\.\d+)?$/.test(v) ? v : `'${v.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`}`).join(', ')}`;
}

export async function startChdbHttp(): Promise<ChdbHttp> {
  const tmp = makeTempDir('fieldkit-chdb-http-');
  const session = new Session(tmp.path);
  const requests: ChdbRequest[] = [];
  let loseNext = false;
  // One statement at a time, as one session allows.
  let chain: Promise<unknown> = Promise.resolve();

  const server = createServer((req, res) => {
    const run = async (): Promise<void> => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const body = await readBody(req);
      const settings: Record<string, string> = {};
      for (const [k, v] of url.searchParams) if (!CLIENT_PARAMS.has(k)) settings[k] = v;
      // Settings only the HTTP layer knows.
      delete settings.enable_http_compression;
      const inUrl = url.searchParams.get('query');
      let sql = inUrl === null ? body.toString('utf8') : inUrl;
      const data = inUrl === null ? '' : body.toString('utf8');
      let format = 'TabSeparated';
      const formatMatch = /\s+FORMAT\s+(\w+)\s*$/i.exec(sql);
      const isInsert = /^\s*INSERT\b/i.test(sql);
      if (isInsert) {
        sql = sql.replace(/\s+FORMAT\s+(\w+)\s*$/i, `${settingsClause(settings)} FORMAT $1`);
      } else {
        if (formatMatch?.[1] !== undefined) {
          format = formatMatch[1];
          sql = sql.slice(0, formatMatch.index);
        }
        sql += settingsClause(settings);
      }
      const rows = data === '' ? 0 : data.split('\n').filter((l) => l !== '').length;
      try {
        const result = await session.queryAsync(isInsert ? `${sql}\n${data}` : sql, { format });
        requests.push({ query: inUrl ?? body.toString('utf8'), settings, rows, status: 200 });
        if (isInsert && loseNext) {
          loseNext = false;
          req.socket.destroy();
          return;
        }
        res.writeHead(200, { 'content-type': 'text/plain; charset=UTF-8', 'x-clickhouse-format': format });
        res.end(result.text());
      } catch (error) {
        const message = error instanceof Error ? error.message.replace(/^.*?Query failed: /s, '') : String(error);
        requests.push({ query: inUrl ?? body.toString('utf8'), settings, rows, status: 500 });
        const code = /Code: (\d+)/.exec(message)?.[1] ?? '1';
        res.writeHead(500, { 'content-type': 'text/plain; charset=UTF-8', 'x-clickhouse-exception-code': code });
        res.end(`${message.trim()}\n`);
      }
    };
    const next = chain.then(run).catch(() => undefined);
    chain = next;
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    url: `http://127.0.0.1:${String(port)}/`,
    session,
    requests,
    sql: (query) => session.query(query, 'TSV'),
    loseNextInsertAnswer: () => {
      loseNext = true;
    },
    async stop() {
      await new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
        server.closeAllConnections();
      });
      await chain;
      session.cleanup();
      tmp.remove();
    },
  };
}
