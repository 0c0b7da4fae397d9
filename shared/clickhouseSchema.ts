/**
 * The central ClickHouse schema that the agent's uplink and the laptop's courier both
 * write to. Idempotent by key: ReplacingMergeTree keyed by (device_id, journal_id, seq),
 * so a batch sent twice (a retry, or courier and uplink overlapping) collapses to one row
 * at merge time and under `FINAL`. Works on ClickHouse 18.16 (Debian's) and current
 * releases: only syntax both understand (no settings clause, no newer types).
 *
 * Inserts must name their columns (INSERT_COLUMNS): ClickHouse before 19.x fills a column
 * that JSONEachRow omits with the type's zero (inserted_at = 1970) instead of its DEFAULT,
 * unless the column list leaves it out.
 */

/** Columns a writer sends for one journal record, in order; inserted_at is the server's. */
export const TELEMETRY_INSERT_COLUMNS = [
  'device_id', 'journal_id', 'seq', 'ts_ms', 'recv_ms', 'priority', 'kind', 'model_version',
  'payload', 'site', 'via', 'clock_offset_ms',
] as const;

/** Columns a writer sends for one loss record, in order; inserted_at is the server's. */
export const TELEMETRY_LOSS_INSERT_COLUMNS = [
  'device_id', 'journal_id', 'from_seq', 'to_seq', 'count', 'priority', 'reason', 'at_ms', 'site', 'via',
] as const;

export type TelemetryRow = {
  device_id: string;
  journal_id: string;
  seq: number;
  ts_ms: number;
  recv_ms: number;
  priority: number;
  kind: string;
  model_version: string;
  payload: string;
  site: string;
  /** Who delivered it: 'uplink' (the agent itself) or 'courier:<laptop id>'. */
  via: string;
  /** Device clock minus the courier's clock at pull time; 0 when the device sent it itself. */
  clock_offset_ms: number;
};

export type TelemetryLossRow = {
  device_id: string;
  journal_id: string;
  from_seq: number;
  to_seq: number;
  count: number;
  priority: number;
  reason: string;
  at_ms: number;
  site: string;
  via: string;
};

const TELEMETRY_COLUMNS_DDL = `device_id String, journal_id String, seq UInt64,
  ts_ms Int64, recv_ms Int64, priority UInt8, kind String, model_version String,
  payload String, site String, via String, clock_offset_ms Int64,
  inserted_at DateTime DEFAULT now()`;
const TELEMETRY_PARTITION = 'PARTITION BY toYYYYMM(toDateTime(intDiv(ts_ms, 1000)))';
const TELEMETRY_ORDER = 'ORDER BY (device_id, journal_id, seq)';

const LOSS_COLUMNS_DDL = `device_id String, journal_id String, from_seq UInt64, to_seq UInt64,
  count UInt64, priority UInt8, reason String, at_ms Int64, site String, via String,
  inserted_at DateTime DEFAULT now()`;
const LOSS_ORDER = 'ORDER BY (device_id, journal_id, from_seq, to_seq)';

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Backtick-quotes a database, table or cluster name after checking it is a plain identifier. */
export function quoteIdentifier(name: string): string {
  if (!IDENTIFIER.test(name)) {
    throw new Error(`"${name}" is not a plain ClickHouse identifier (letters, digits, underscore; not starting with a digit)`);
  }
  return `\`${name}\``;
}

/** `db`.`table`, or just `table` when no database is given (the connection's default). */
export function qualifiedTable(database: string | undefined, table: string): string {
  return database === undefined ? quoteIdentifier(table) : `${quoteIdentifier(database)}.${quoteIdentifier(table)}`;
}

export type SchemaNames = {
  /** Omit to use the connection's database. */
  database?: string;
  /** Default `telemetry`. */
  table?: string;
  /** Default `telemetry_loss`. */
  lossTable?: string;
};

/** CREATE TABLE for `telemetry` on a single server, exactly as DESIGN.md gives it. */
export function telemetryTableDdl(names: SchemaNames = {}): string {
  return `CREATE TABLE IF NOT EXISTS ${qualifiedTable(names.database, names.table ?? 'telemetry')} (
  ${TELEMETRY_COLUMNS_DDL}
) ENGINE = ReplacingMergeTree
${TELEMETRY_PARTITION}
${TELEMETRY_ORDER}`;
}

/** CREATE TABLE for the loss records, the sibling of `telemetry`. */
export function telemetryLossTableDdl(names: SchemaNames = {}): string {
  return `CREATE TABLE IF NOT EXISTS ${qualifiedTable(names.database, names.lossTable ?? 'telemetry_loss')} (
  ${LOSS_COLUMNS_DDL}
) ENGINE = ReplacingMergeTree
${LOSS_ORDER}`;
}

/** Both tables for a single server, in the order to run them (one statement each: HTTP takes one per request). */
export function singleServerSchema(names: SchemaNames = {}): string[] {
  return [telemetryTableDdl(names), telemetryLossTableDdl(names)];
}

export type ClusterSchemaOptions = SchemaNames & {
  cluster: string;
  /** The database on every node (required: Distributed names it explicitly). */
  database: string;
  /** Suffix of the per-shard tables; default `_local` (telemetry_local, telemetry_loss_local). */
  localSuffix?: string;
  /** ZooKeeper path prefix for the replicated tables; default `/clickhouse/tables/{shard}`. */
  zooKeeperPrefix?: string;
};

/**
 * The cluster variant: per shard a ReplicatedReplacingMergeTree (`{shard}` and `{replica}`
 * macros from each node's config), and over them a Distributed table with the plain names
 * that writers use, sharded by cityHash64(device_id) so a device's journal stays on one
 * shard (and its duplicates meet in one merge). Every statement runs ON CLUSTER.
 */
export function clusterSchema(options: ClusterSchemaOptions): string[] {
  return clusterTables(options, [
    [options.table ?? 'telemetry', TELEMETRY_COLUMNS_DDL, `${TELEMETRY_PARTITION}\n${TELEMETRY_ORDER}`],
    [options.lossTable ?? 'telemetry_loss', LOSS_COLUMNS_DDL, LOSS_ORDER],
  ]);
}

/** Per table: its name, column DDL and key clauses. */
type TableSpec = [name: string, columns: string, keys: string];

function clusterTables(options: Omit<ClusterSchemaOptions, 'table' | 'lossTable'>, tables: readonly TableSpec[]): string[] {
  const cluster = quoteIdentifier(options.cluster);
  const db = quoteIdentifier(options.database);
  const suffix = options.localSuffix ?? '_local';
  const prefix = options.zooKeeperPrefix ?? '/clickhouse/tables/{shard}';
  if (prefix.includes("'") || prefix.includes('\\')) throw new Error('zooKeeperPrefix must not contain quotes or backslashes');
  const statements: string[] = [];
  for (const [name, columns, keys] of tables) {
    const local = `${name}${suffix}`;
    statements.push(`CREATE TABLE IF NOT EXISTS ${db}.${quoteIdentifier(local)} ON CLUSTER ${cluster} (
  ${columns}
) ENGINE = ReplicatedReplacingMergeTree('${prefix}/${options.database}/${local}', '{replica}')
${keys}`);
    statements.push(`CREATE TABLE IF NOT EXISTS ${db}.${quoteIdentifier(name)} ON CLUSTER ${cluster}
AS ${db}.${quoteIdentifier(local)}
ENGINE = Distributed(${cluster}, ${db}, ${quoteIdentifier(local)}, cityHash64(device_id))`);
  }
  return statements;
}

/**
 * Health history carried by the courier: one row per device and minute, and notable
 * events (under-voltage at 02:14, …), in tables of their own. Keyed like the journal rows
 * (ReplacingMergeTree on the natural key), so a minute forwarded twice — a retry, or a
 * minute pulled again after it filled up — is one row under FINAL, the last one sent.
 */
export const HEALTH_MINUTES_INSERT_COLUMNS = [
  'device_id', 'minute_ms', 'cpu_pct_avg', 'temp_c_max', 'mem_available_min_bytes', 'disk_free_min_bytes',
  'throttled_raw_or', 'backlog_records_max', 'inference_p95_ms', 'site', 'via',
] as const;

export const HEALTH_EVENTS_INSERT_COLUMNS = ['device_id', 'at_ms', 'kind', 'detail', 'site', 'via'] as const;

const HEALTH_MINUTES_COLUMNS_DDL = `device_id String, minute_ms Int64,
  cpu_pct_avg Nullable(Float64), temp_c_max Nullable(Float64),
  mem_available_min_bytes Nullable(Float64), disk_free_min_bytes Nullable(Float64),
  throttled_raw_or Nullable(UInt32), backlog_records_max UInt64, inference_p95_ms Nullable(Float64),
  site String, via String,
  inserted_at DateTime DEFAULT now()`;
const HEALTH_MINUTES_KEYS = `PARTITION BY toYYYYMM(toDateTime(intDiv(minute_ms, 1000)))
ORDER BY (device_id, minute_ms)`;

const HEALTH_EVENTS_COLUMNS_DDL = `device_id String, at_ms Int64, kind String, detail String, site String, via String,
  inserted_at DateTime DEFAULT now()`;
const HEALTH_EVENTS_KEYS = 'ORDER BY (device_id, at_ms, kind)';

export type HealthTableNames = {
  /** Omit to use the connection's database. */
  database?: string;
  /** Default `health_minutes`. */
  minutesTable?: string;
  /** Default `health_events`. */
  eventsTable?: string;
};

/** The health tables on a single server, or ON CLUSTER (replicated per shard + Distributed) when `cluster` is given. */
export function healthSchema(names: HealthTableNames, cluster?: Omit<ClusterSchemaOptions, 'table' | 'lossTable'>): string[] {
  const tables: TableSpec[] = [
    [names.minutesTable ?? 'health_minutes', HEALTH_MINUTES_COLUMNS_DDL, HEALTH_MINUTES_KEYS],
    [names.eventsTable ?? 'health_events', HEALTH_EVENTS_COLUMNS_DDL, HEALTH_EVENTS_KEYS],
  ];
  if (cluster) return clusterTables(cluster, tables);
  return tables.map(
    ([name, columns, keys]) => `CREATE TABLE IF NOT EXISTS ${qualifiedTable(names.database, name)} (
  ${columns}
) ENGINE = ReplacingMergeTree
${keys}`,
  );
}

/**
 * Whether the server knows the `insert_deduplication_token` setting (ClickHouse 22.2 and
 * later). Older servers reject a query that names an unknown setting, so a writer sends it
 * only where this says yes; retries stay idempotent anyway through the table's key.
 */
export function supportsInsertDeduplicationToken(serverVersion: string): boolean {
  const match = /^(\d+)\.(\d+)/.exec(serverVersion.trim());
  if (match?.[1] === undefined || match[2] === undefined) return false;
  const major = Number(match[1]);
  const minor = Number(match[2]);
  return major > 22 || (major === 22 && minor >= 2);
}

/** The deterministic token for one batch: the same records always carry the same token. */
export function batchDeduplicationToken(deviceId: string, journalId: string, fromSeq: number, toSeq: number): string {
  return `${deviceId}:${journalId}:${fromSeq}-${toSeq}`;
}
