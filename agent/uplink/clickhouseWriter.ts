/**
 * The uplink's connection to ClickHouse: @clickhouse/client over HTTP(S), JSONEachRow with
 * gzip request bodies, the columns named (see shared/clickhouseSchema.ts), and the bytes
 * that actually went on the wire counted per socket so the bandwidth cap paces what the
 * metered link is billed for, not an estimate before compression.
 */
import { ClickHouseLogLevel, createClient } from '@clickhouse/client';
import type { ClickHouseClient } from '@clickhouse/client';
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { Socket } from 'node:net';
import type { AgentConfig } from '../../shared/agentConfig.ts';
import {
  TELEMETRY_INSERT_COLUMNS,
  TELEMETRY_LOSS_INSERT_COLUMNS,
  qualifiedTable,
  singleServerSchema,
  supportsInsertDeduplicationToken,
} from '../../shared/clickhouseSchema.ts';
import type { TelemetryLossRow, TelemetryRow } from '../../shared/clickhouseSchema.ts';

export type UplinkConfig = NonNullable<AgentConfig['uplink']>;

export type ClickHouseWriter = {
  /** The server's version, asked once per writer (`SELECT version()`). */
  serverVersion(signal?: AbortSignal): Promise<string>;
  insertRows(rows: readonly TelemetryRow[], token: string, signal?: AbortSignal): Promise<void>;
  insertLosses(rows: readonly TelemetryLossRow[], token: string, signal?: AbortSignal): Promise<void>;
  /** Bytes written to the server's sockets so far (headers, gzip bodies, TLS framing). */
  wireBytes(): number;
  close(): Promise<void>;
};

const REQUEST_TIMEOUT_MS = 60_000;
/** ClickHouse's UNKNOWN_TABLE. */
const UNKNOWN_TABLE = '60';

/** An HTTP(S) agent that counts what its sockets wrote, closed ones included. */
function countingAgent(url: URL): { agent: HttpAgent; bytes: () => number } {
  const agent = url.protocol === 'https:' ? new HttpsAgent({ keepAlive: true, maxSockets: 2 }) : new HttpAgent({ keepAlive: true, maxSockets: 2 });
  const live = new Set<Socket>();
  let closedBytes = 0;
  const create = agent.createConnection.bind(agent);
  agent.createConnection = (options, callback) => {
    const stream = create(options, callback);
    if (stream instanceof Socket) {
      live.add(stream);
      stream.once('close', () => {
        live.delete(stream);
        closedBytes += stream.bytesWritten;
      });
    }
    return stream;
  };
  return {
    agent,
    bytes: () => {
      let total = closedBytes;
      for (const socket of live) total += socket.bytesWritten;
      return total;
    },
  };
}

/** UNKNOWN_TABLE, however the server words it (18.16: "Code: 60, e.displayText() = …"). */
function isUnknownTable(error: unknown): boolean {
  if (typeof error === 'object' && error !== null && 'code' in error && error.code === UNKNOWN_TABLE) return true;
  return error instanceof Error && new RegExp(`\\bCode: ${UNKNOWN_TABLE}\\b`).test(error.message);
}

export function createClickHouseWriter(config: UplinkConfig): ClickHouseWriter {
  const url = new URL(config.url);
  const counting = countingAgent(url);
  const client: ClickHouseClient = createClient({
    url: config.url,
    username: config.username,
    password: config.password,
    database: config.database,
    application: 'fieldkit-agent',
    request_timeout: REQUEST_TIMEOUT_MS,
    compression: { request: true, response: false },
    http_agent: counting.agent,
    // Failures come back to the uplink, which reports them once in its status; the
    // client's own console warnings would repeat every retry.
    log: { level: ClickHouseLogLevel.OFF },
  });
  // Checked here so a bad name in the config fails at start, not on the first insert.
  const table = qualifiedTable(undefined, config.table);
  const lossTable = qualifiedTable(undefined, config.loss_table);
  let version: string | null = null;
  let schemaTried = false;

  async function serverVersion(signal?: AbortSignal): Promise<string> {
    if (version !== null) return version;
    const result = await client.query({ query: 'SELECT version() AS version', format: 'JSONEachRow', abort_signal: signal });
    const rows = await result.json<{ version: string }>();
    version = rows[0]?.version ?? '';
    return version;
  }

  /**
   * Creates the central tables when the first insert finds them missing (a fresh server).
   * A user without DDL rights gets the original error back.
   */
  async function withSchema(insert: () => Promise<unknown>): Promise<void> {
    try {
      await insert();
    } catch (error) {
      if (schemaTried || !isUnknownTable(error)) throw error;
      schemaTried = true;
      const names = { table: config.table, lossTable: config.loss_table };
      for (const ddl of singleServerSchema(names)) await client.command({ query: ddl });
      await insert();
    }
  }

  async function settingsFor(token: string, signal?: AbortSignal): Promise<Record<string, string>> {
    // 18.16 rejects a query naming a setting it does not know; idempotence there rests on
    // the ReplacingMergeTree key and stable batch boundaries.
    return supportsInsertDeduplicationToken(await serverVersion(signal)) ? { insert_deduplication_token: token } : {};
  }

  return {
    serverVersion,
    async insertRows(rows, token, signal) {
      if (rows.length === 0) return;
      const settings = await settingsFor(token, signal);
      await withSchema(() => client.insert({
        table,
        values: rows,
        format: 'JSONEachRow',
        columns: [...TELEMETRY_INSERT_COLUMNS],
        clickhouse_settings: settings,
        abort_signal: signal,
      }));
    },
    async insertLosses(rows, token, signal) {
      if (rows.length === 0) return;
      const settings = await settingsFor(`${token}:loss`, signal);
      await withSchema(() => client.insert({
        table: lossTable,
        values: rows,
        format: 'JSONEachRow',
        columns: [...TELEMETRY_LOSS_INSERT_COLUMNS],
        clickhouse_settings: settings,
        abort_signal: signal,
      }));
    },
    wireBytes: counting.bytes,
    async close() {
      await client.close();
      counting.agent.destroy();
    },
  };
}
