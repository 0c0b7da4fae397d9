/**
 * The courier's connection to ClickHouse: @clickhouse/client over HTTP(S) with the
 * technician's TLS files (a private CA, a client certificate for mTLS), gzip request
 * bodies, the server's version asked once, and errors sorted into what to do about them:
 * wait and retry (the server or network is down), split the batch (the server refused
 * some rows), or stop and tell the technician (credentials, TLS, schema).
 */
import { ClickHouseLogLevel, createClient, type ClickHouseClient } from '@clickhouse/client';
import { readFileSync } from 'node:fs';
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { clusterSchema, healthSchema, qualifiedTable, singleServerSchema, supportsInsertDeduplicationToken } from '../../shared/clickhouseSchema.ts';
import type { ClickHouseSettings } from '../../shared/clickhouseSettings.ts';
import { appError, FieldkitError, type AppError } from '../../shared/errors.ts';
import { courierTables } from './clickhouseSettingsStore.ts';
import { httpsToHttpPort } from './clickhouseScheme.ts';

export type ClickHouseTarget = { settings: ClickHouseSettings; password: string };

export type ClickHouseConnection = {
  readonly url: string;
  /** `db`.`table` for records and loss records. */
  readonly table: string;
  readonly lossTable: string;
  /** `db`.`health_minutes` and `db`.`health_events`: health history carried by pulls. */
  readonly healthMinutesTable: string;
  readonly healthEventsTable: string;
  serverVersion(signal?: AbortSignal): Promise<string>;
  /** Whether inserts may carry insert_deduplication_token (22.2+). */
  dedupTokens(signal?: AbortSignal): Promise<boolean>;
  /** Both journal tables present (a Distributed table counts when a cluster is set). */
  tablesExist(signal?: AbortSignal): Promise<boolean>;
  /** Both health tables present: a server set up before health history was forwarded lacks them. */
  healthTablesExist(signal?: AbortSignal): Promise<boolean>;
  /** CREATE TABLE IF NOT EXISTS for the journal and health tables (ON CLUSTER when a cluster is set). */
  ensureSchema(signal?: AbortSignal): Promise<void>;
  /**
   * Inserts JSONEachRow text (lines ending in "\n") into `table`, naming `columns`.
   * Resolves only when the server acknowledged the whole insert. `deduplicate: false`
   * (rows sent again because reconcile found them gone) turns the server's insert
   * deduplication off and sends no token: the server may remember the block, or the
   * token, from the first time, and would silently skip it.
   */
  insertJsonLines(table: string, columns: readonly string[], body: string, token: string | null, bodySent?: () => void, deduplicate?: boolean): Promise<void>;
  /** Runs a SELECT and returns its rows (JSONEachRow). */
  queryRows<T>(sql: string, signal?: AbortSignal): Promise<T[]>;
  close(): Promise<void>;
};

const REQUEST_TIMEOUT_MS = 120_000;
const gzipAsync = promisify(gzip);

/** The HTTP(S) agent with the technician's TLS files; one socket pool per connection. */
function agentFor(url: URL, tls: ClickHouseSettings['tls']): HttpAgent {
  if (url.protocol !== 'https:') return new HttpAgent({ keepAlive: true, maxSockets: 4 });
  const read = (path: string | null, what: string): Buffer | undefined => {
    if (path === null) return undefined;
    try {
      return readFileSync(path);
    } catch (cause) {
      throw new FieldkitError(appError('NOT_FOUND', `Cannot read the ${what} ${path}: ${(cause as Error).message}`, 'Fix the TLS paths in Settings → ClickHouse (fieldkit settings clickhouse --ca/--cert/--key).'), { cause });
    }
  };
  const ca = read(tls.caFile, 'CA file');
  const cert = read(tls.certFile, 'client certificate');
  const key = read(tls.keyFile, 'client key');
  return new HttpsAgent({ keepAlive: true, maxSockets: 4, ...(ca ? { ca } : {}), ...(cert ? { cert } : {}), ...(key ? { key } : {}) });
}

export function openClickHouse(target: ClickHouseTarget): ClickHouseConnection {
  const { settings } = target;
  const url = new URL(settings.url);
  const agent = agentFor(url, settings.tls);
  const client: ClickHouseClient = createClient({
    url: settings.url,
    username: settings.user,
    password: target.password,
    database: settings.database,
    application: 'fieldkit-courier',
    request_timeout: REQUEST_TIMEOUT_MS,
    // Insert bodies are gzipped by insertLines itself (level 1: most of gzip's saving on JSON at several times the speed of the default).
    compression: { request: false, response: false },
    http_agent: agent,
    // Failures come back to the forward job, which says once what happened.
    log: { level: ClickHouseLogLevel.OFF },
  });
  const names = courierTables(settings);
  const table = qualifiedTable(settings.database, names.table);
  const lossTable = qualifiedTable(settings.database, names.lossTable);
  const healthNames = { minutesTable: 'health_minutes', eventsTable: 'health_events' } as const;
  let version: string | null = null;
  // Through a Distributed table, an insert is acknowledged only once every shard it touches
  // has written it (by default the node would queue it on its disk, answer, and send later):
  // the forward marks rows after the ack, so the ack must mean the rows are in the shard.
  const distributedSync = settings.cluster === null ? {} : { insert_distributed_sync: 1 as const };

  async function serverVersion(signal?: AbortSignal): Promise<string> {
    if (version !== null) return version;
    const result = await client.query({ query: 'SELECT version() AS version', format: 'JSONEachRow', ...(signal ? { abort_signal: signal } : {}) });
    const rows = await result.json<{ version: string }>();
    version = rows[0]?.version ?? '';
    return version;
  }

  async function queryRows<T>(sql: string, signal?: AbortSignal): Promise<T[]> {
    const result = await client.query({ query: sql, format: 'JSONEachRow', ...(signal ? { abort_signal: signal } : {}) });
    return result.json<T>();
  }

  return {
    url: `${url.protocol}//${url.host}`,
    table,
    lossTable,
    healthMinutesTable: qualifiedTable(settings.database, healthNames.minutesTable),
    healthEventsTable: qualifiedTable(settings.database, healthNames.eventsTable),
    serverVersion,
    async dedupTokens(signal) {
      return supportsInsertDeduplicationToken(await serverVersion(signal));
    },
    async tablesExist(signal) {
      const rows = await queryRows<{ n: string | number }>(
        `SELECT count() AS n FROM system.tables WHERE database = '${settings.database}' AND name IN ('${names.table}', '${names.lossTable}')`,
        signal,
      );
      return Number(rows[0]?.n ?? 0) === 2;
    },
    async healthTablesExist(signal) {
      const rows = await queryRows<{ n: string | number }>(
        `SELECT count() AS n FROM system.tables WHERE database = '${settings.database}' AND name IN ('${healthNames.minutesTable}', '${healthNames.eventsTable}')`,
        signal,
      );
      return Number(rows[0]?.n ?? 0) === 2;
    },
    async ensureSchema(signal) {
      const statements =
        settings.cluster === null
          ? singleServerSchema({ database: settings.database, table: names.table, lossTable: names.lossTable })
          : clusterSchema({ cluster: settings.cluster, database: settings.database, table: names.table, lossTable: names.lossTable });
      statements.push(...healthSchema({ database: settings.database, ...healthNames }, settings.cluster === null ? undefined : { cluster: settings.cluster, database: settings.database }));
      for (const query of statements) await client.command({ query, ...(signal ? { abort_signal: signal } : {}) });
    },
    async insertJsonLines(into, columns, text, token, bodySent, deduplicate = true) {
      if (text === '') return;
      // Compressed here in one piece (zlib's thread pool, level 1) rather than streamed by the
      // client: the body then leaves in a few large writes while the next batch is being read.
      const body = await gzipAsync(Buffer.from(text, 'utf8'), { level: 1 });
      // exec, not insert: the lines are JSON already, and insert would want objects to serialize again.
      const values = Readable.from([body]);
      // Told once the body has been handed to the socket: the caller may then use this thread.
      if (bodySent) values.once('end', bodySent);
      const result = await client.exec({
        query: `INSERT INTO ${into} (${columns.join(', ')}) FORMAT JSONEachRow`,
        values,
        http_headers: { 'Content-Encoding': 'gzip' },
        clickhouse_settings: { ...distributedSync, ...(!deduplicate ? { insert_deduplicate: 0 } : token === null ? {} : { insert_deduplication_token: token }) },
      });
      // The server answers an insert only once it has taken every row; the body is empty.
      result.stream.resume();
      await new Promise<void>((resolve, reject) => {
        result.stream.once('end', resolve);
        result.stream.once('error', reject);
      });
    },
    queryRows,
    async close() {
      await client.close();
      agent.destroy();
    },
  };
}

/** What the forward job does about a failure. */
export type FailureKind =
  /** The server or the network is down or overloaded: wait and try the same batch again. */
  | 'transient'
  /** The server refused the data itself: split the batch to find the rows it refuses. */
  | 'rejected'
  /** Nothing a retry fixes (credentials, TLS, missing rights, schema): stop and say so. */
  | 'fatal';

export type DescribedFailure = { kind: FailureKind; error: AppError; serverCode: string | null };

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EPIPE', 'ECONNABORTED', 'UND_ERR_SOCKET']);
/** Server codes that mean "not now": memory, load, timeouts, network, replication. */
const TRANSIENT_SERVER_CODES = new Set(['3', '159', '160', '164', '202', '203', '209', '210', '225', '241', '242', '252', '319', '373', '394', '425', '999']);
/** Server codes that mean "this data cannot be parsed or stored as these types". */
const DATA_SERVER_CODES = new Set(['6', '25', '26', '27', '32', '33', '38', '41', '49', '53', '69', '70', '72', '117', '131', '190', '691', '695']);
/** A Distributed insert whose connection to a shard's replica broke (see describeClickHouseFailure). */
const REMOTE_NODE_FAILURE = /Insertion status:|while receiving packet from|Connection reset by peer|Connection refused \(/i;
const AUTH_SERVER_CODES = new Set(['192', '193', '194', '195', '516']);
const PERMISSION_SERVER_CODES = new Set(['164', '497']);

function field(error: unknown, name: string): string {
  if (typeof error !== 'object' || error === null || !(name in error)) return '';
  const value = (error as Record<string, unknown>)[name];
  return typeof value === 'string' || typeof value === 'number' ? String(value) : '';
}

/**
 * Sorts a failure of a ClickHouse call. The server's own code decides when it gave one
 * (18.16 words errors "Code: 27, e.displayText() = …", current servers "Code: 27. … (NAME)").
 */
export function describeClickHouseFailure(error: unknown, url: string): DescribedFailure {
  const message = (error instanceof Error ? error.message : String(error)).trim();
  let code = field(error, 'code');
  if (code === '') code = /\bCode: (\d+)/.exec(message)?.[1] ?? '';
  const serverCode = /^\d+$/.test(code) ? code : null;
  const type = field(error, 'type');
  const label = serverCode === null ? '' : ` (code ${serverCode}${type === '' ? '' : ` ${type}`})`;
  const short = message.replace(/, e\.what\(\) = DB::Exception$/, '').slice(0, 600);

  if (NETWORK_CODES.has(code) || /socket hang up|timeout|timed out|ECONNREFUSED|ECONNRESET|other side closed/i.test(message)) {
    return {
      kind: 'transient',
      serverCode,
      error: appError('UNAVAILABLE', `ClickHouse at ${url} is not reachable (${code === '' ? short : code}).`, 'Check the network and that the server is up; forward again later. Nothing is lost: this laptop keeps every record until ClickHouse confirms it.'),
    };
  }
  // A node behind the Distributed table went away mid-insert. 18.16 says "Code: 32 … Attempt
  // to read after eof: Insertion status: Wrote 3 blocks … on shard 1 replica 0", current
  // servers "… while receiving packet from host:port": code 32 is also bad input, but these
  // are the cluster, not the data. Sent again, the batch lands on the shard's other replica.
  if (REMOTE_NODE_FAILURE.test(message)) {
    return {
      kind: 'transient',
      serverCode,
      error: appError('UNAVAILABLE', `A ClickHouse node behind ${url} failed during the insert${label}: ${short}`, 'A replica of the cluster went away; the batch is sent again (its key keeps it once). Nothing is lost.'),
    };
  }
  // OpenSSL's words for "the other side did not answer in TLS": an https:// URL at a plain-HTTP port.
  if (url.startsWith('https:') && (/^ERR_SSL_(WRONG_VERSION_NUMBER|PACKET_LENGTH_TOO_LONG|HTTP_REQUEST)$/.test(code) || /wrong version number|packet length too long/i.test(message))) {
    return { kind: 'fatal', serverCode, error: httpsToHttpPort(new URL(url)) };
  }
  if (/^(ERR_TLS|CERT_|DEPTH_ZERO|SELF_SIGNED|UNABLE_TO_|ERR_SSL)/.test(code) || /certificate|SSL routines|alert/i.test(message)) {
    return {
      kind: 'fatal',
      serverCode,
      error: appError('VERIFICATION_FAILED', `TLS with ClickHouse at ${url} failed: ${short}`, 'Check the CA file (for a private CA) and, for mutual TLS, the client certificate and key in Settings → ClickHouse.'),
    };
  }
  if (serverCode !== null && AUTH_SERVER_CODES.has(serverCode)) {
    return {
      kind: 'fatal',
      serverCode,
      error: appError('PERMISSION_DENIED', `ClickHouse refused the user or password${label}: ${short}`, 'Set the right user and password (fieldkit settings clickhouse --user … --password-stdin), then forward again.'),
    };
  }
  if (serverCode !== null && PERMISSION_SERVER_CODES.has(serverCode) && /privilege|not enough|access/i.test(message)) {
    return {
      kind: 'fatal',
      serverCode,
      error: appError('PERMISSION_DENIED', `The ClickHouse user may not do this${label}: ${short}`, 'Grant the user INSERT and SELECT on the telemetry tables (and CREATE TABLE for the first forward), or create the tables once as an administrator.'),
    };
  }
  if (serverCode !== null && TRANSIENT_SERVER_CODES.has(serverCode)) {
    return {
      kind: serverCode === '252' && /partitions/i.test(message) ? 'rejected' : 'transient',
      serverCode,
      error: appError('UNAVAILABLE', `ClickHouse did not take the batch now${label}: ${short}`, 'The server is busy or degraded; forward again later. Nothing is lost.'),
    };
  }
  if ((serverCode !== null && DATA_SERVER_CODES.has(serverCode)) || /\(at row \d+\)|while read(ing)? the value of key/i.test(message)) {
    return { kind: 'rejected', serverCode, error: appError('VERIFICATION_FAILED', `ClickHouse refused the data${label}: ${short}`, 'Rows the server refuses are set aside in the quarantine; see them with `fieldkit quarantine`.') };
  }
  if (serverCode === '701' || /Requested cluster '.*' not found|DistributedDDL/i.test(message)) {
    return {
      kind: 'fatal',
      serverCode,
      error: appError('CONFLICT', `ClickHouse does not know the cluster${label}: ${short}`, 'Set the cluster name the server defines (SELECT DISTINCT cluster FROM system.clusters), or clear it for a single server (--no-cluster).'),
    };
  }
  if (serverCode === '60' || serverCode === '81' || serverCode === '16' || serverCode === '47') {
    return {
      kind: 'fatal',
      serverCode,
      error: appError('CONFLICT', `The ClickHouse tables do not match what fieldkit writes${label}: ${short}`, 'Check the database and table names in Settings → ClickHouse, and that the table has the columns of the central schema (DESIGN.md).'),
    };
  }
  return {
    kind: 'fatal',
    serverCode,
    error: appError('UNAVAILABLE', `ClickHouse failed${label}: ${short}`, 'Look at the ClickHouse server log for this error; forward again once it is fixed. Nothing is lost.'),
  };
}
