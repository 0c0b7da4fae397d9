/**
 * `fieldkit-agent`: the command line of the edge agent.
 *
 *   fieldkit-agent [--config <path>] <command>
 *     run                        the daemon (systemd runs this)
 *     status [--json]            journal, custody, losses, health, and whether the daemon answers
 *     export [--after N] [--limit N] [--losses]
 *                                NDJSON of records (or loss records) to stdout, for rescue
 *     ingest [--file F] [--json] append events from stdin or a file (NDJSON; --json: one event)
 *     rpc                        the framed RPC on stdin/stdout (the laptop runs this)
 *     backup-stream --class C [--path P]...
 *                                one backup class as a tar stream on stdout (agent/backup/)
 *     backup-probe --classes C,C [--path C=P]... --json
 *                                per class a change token from file metadata (no contents read)
 *     backup-restore --class C | --check-db P...
 *                                a class's tar from stdin checked, then put in place (agent/backup/restoreClass.ts)
 *     journal-replaces --journal ID --through N    a replacement Pi's journal names the one it continues
 *     version                    versions as JSON
 *
 * Exit codes: 0 done, 1 failed (the error and what to do are printed), 2 wrong command line.
 * The config path: --config, else $FIELDKIT_AGENT_CONFIG, else /etc/fieldkit-agent/config.json.
 */
import { existsSync, readFileSync } from 'node:fs';
import { arch, platform } from 'node:os';
import { parseArgs } from 'node:util';
import type { AgentConfig } from '../shared/agentConfig.ts';
import { isFieldkitError } from '../shared/errors.ts';
import { createConfigStore, loadConfig, resolveConfigPath } from './config/loadConfig.ts';
import type { HealthSource } from './health/healthApi.ts';
import type { HealthSourceOptions } from './health/healthSource.ts';
import { parseEvents } from './ingest/parseEvents.ts';
import type { Journal } from './journal/journalApi.ts';
import { journalPath, openJournalForConfig } from './journal/openJournal.ts';
import { createJsonLogger } from './jsonLog.ts';
import { usage } from './usage.ts';
import { agentVersion } from './version.ts';

// The daemon, the RPC server and the health sampler (with MQTT and the ClickHouse client
// behind them) load only for the commands that use them: `version` or `export` on a Pi
// should not pay for them at start.
async function loadHealthSource(): Promise<(options: HealthSourceOptions) => HealthSource> {
  return (await import('./health/healthSource.ts')).createHealthSource;
}

const commandOptions: Record<string, readonly string[]> = {
  run: [],
  status: ['json'],
  export: ['after', 'limit', 'losses'],
  ingest: ['file', 'json'],
  rpc: [],
  'backup-stream': ['class', 'path'],
  'backup-probe': ['classes', 'path', 'json'],
  'backup-restore': ['class', 'keep', 'keep-config', 'expect-device', 'check-db'],
  'journal-replaces': ['journal', 'through', 'aside'],
  version: [],
  help: [],
};

class UsageError extends Error {}

type Args = {
  command: string;
  config: string | undefined;
  values: Record<string, string | boolean | string[] | undefined>;
  after: number;
  limit: number;
};

function parseCommandLine(argv: readonly string[]): Args {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        config: { type: 'string' },
        json: { type: 'boolean' },
        after: { type: 'string' },
        limit: { type: 'string' },
        losses: { type: 'boolean' },
        file: { type: 'string' },
        class: { type: 'string' },
        classes: { type: 'string' },
        path: { type: 'string', multiple: true },
        keep: { type: 'string', multiple: true },
        'keep-config': { type: 'string', multiple: true },
        'expect-device': { type: 'string' },
        'check-db': { type: 'string', multiple: true },
        journal: { type: 'string' }, through: { type: 'string' }, aside: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  const { positionals, values } = parsed;
  const command = values.help === true ? 'help' : positionals[0];
  if (command === undefined) throw new UsageError('no command given');
  const allowed = commandOptions[command];
  if (allowed === undefined) throw new UsageError(`unknown command '${command}'`);
  if (positionals.length > 1 && command !== 'help') throw new UsageError(`unexpected argument '${positionals[1] ?? ''}'`);
  for (const name of Object.keys(values)) {
    if (name !== 'config' && name !== 'help' && !allowed.includes(name)) throw new UsageError(`'${command}' takes no --${name}`);
  }
  return {
    command,
    config: values.config,
    values,
    after: nonNegativeInt(values.after, 'after', 0),
    limit: nonNegativeInt(values.limit, 'limit', Number.MAX_SAFE_INTEGER),
  };
}

function nonNegativeInt(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n)) throw new UsageError(`--${name} takes a whole number, not '${value}'`);
  return n;
}

/** Opens the journal for commands that read it: never creates one where none exists. */
function openExistingJournal(config: AgentConfig): Journal {
  const path = journalPath(config.data_dir);
  if (!existsSync(path)) {
    throw Object.assign(new Error(`No journal at ${path}.`), { hint: 'Check data_dir in the config; the daemon (fieldkit-agent run) creates the journal on first start.' });
  }
  return openJournalForConfig(config);
}

function write(text: string): Promise<void> {
  return new Promise((resolve) => {
    if (process.stdout.write(text)) resolve();
    else process.stdout.once('drain', resolve);
  });
}

async function runDaemon(config: AgentConfig): Promise<number> {
  const log = createJsonLogger();
  const { startDaemon } = await import('./daemon.ts');
  const daemon = await startDaemon({ config, agentVersion, log });
  return new Promise((resolve) => {
    let signals = 0;
    const onSignal = (signal: NodeJS.Signals): void => {
      signals++;
      if (signals > 1) {
        log('warn', 'second signal: exiting now', { signal });
        process.exit(1);
      }
      log('info', 'stopping', { signal });
      // systemd waits TimeoutStopSec (20 s) before SIGKILL: finish well inside it.
      const deadline = setTimeout(() => {
        log('error', 'stop took too long: exiting');
        process.exit(1);
      }, 15_000);
      deadline.unref();
      void daemon.stop().then(() => {
        log('info', 'stopped');
        resolve(0);
      });
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}

async function status(config: AgentConfig, json: boolean): Promise<number> {
  const journal = openExistingJournal(config);
  try {
    const info = journal.info();
    const losses = journal.losses(0);
    const createHealthSource = await loadHealthSource();
    const health = createHealthSource({ config, journal, agentVersion });
    const sample = await health.sample().catch(() => null);
    health.close();
    const url = `http://${config.ingest.host}:${config.ingest.port}/health`;
    const daemon = await fetch(url, { signal: AbortSignal.timeout(2000) })
      .then(async (res) => ({ url, answering: res.ok, health: await res.json() }))
      .catch(() => ({ url, answering: false, health: null }));
    if (json) {
      await write(`${JSON.stringify({ agent_version: agentVersion, journal: info, losses, health: sample, daemon })}\n`);
      return 0;
    }
    const lines = [
      `fieldkit-agent ${agentVersion} on ${info.device_id}${config.site === '' ? '' : ` (site ${config.site})`}`,
      `daemon:    ${daemon.answering ? `answering at ${url}` : `not answering at ${url}`}`,
      `journal:   ${info.journal_id}, seq ${info.first_seq}-${info.last_seq}, ${info.records} records, ${info.bytes} of ${info.budget_bytes} bytes`,
      `forwarded: through seq ${info.forwarded_seq}`,
      ...(info.custody.length === 0 ? ['custody:   no courier yet'] : info.custody.map((c) => `custody:   ${c.courier_id} through seq ${c.through_seq} (${new Date(c.at_ms).toISOString()})`)),
      losses.length === 0 ? 'losses:    none' : `losses:    ${losses.length} ranges, ${losses.reduce((s, l) => s + l.count, 0)} records (fieldkit-agent export --losses)`,
    ];
    if (sample?.service !== undefined) {
      const s = sample.service;
      lines.push(`service:   ${s.state} (${s.manager === 'systemd' ? `systemd ${s.detail}` : s.detail})${s.recent_crashes > 0 ? `, ${String(s.recent_crashes)} crashes in 10 min` : ''}${s.journal_writable === false ? `, journal not writable: ${s.journal_error ?? ''}` : ''}`);
    }
    if (sample !== null) {
      lines.push(
        `health:    cpu ${sample.cpu_pct === null ? '?' : `${sample.cpu_pct.toFixed(0)}%`}, temp ${sample.temp_c === null ? '?' : `${sample.temp_c.toFixed(1)} °C`}, mem ${Math.round(sample.mem_available_bytes / 2 ** 20)} MiB free, throttling ${sample.throttling === null ? 'unknown' : `0x${sample.throttling.raw.toString(16)}`}`,
      );
    }
    await write(`${lines.join('\n')}\n`);
    return 0;
  } finally {
    journal.close();
  }
}

async function exportRecords(config: AgentConfig, after: number, limit: number, lossesOnly: boolean): Promise<number> {
  const journal = openExistingJournal(config);
  try {
    if (lossesOnly) {
      for (const loss of journal.losses(after)) await write(`${JSON.stringify(loss)}\n`);
      return 0;
    }
    let cursor = after;
    let left = limit;
    while (left > 0) {
      const records = journal.read({ after_seq: cursor, limit: Math.min(left, 5000), max_bytes: 8 * 1024 * 1024 });
      if (records.length === 0) break;
      await write(records.map((r) => `${JSON.stringify(r)}\n`).join(''));
      cursor = records.at(-1)?.seq ?? cursor;
      left -= records.length;
    }
    return 0;
  } finally {
    journal.close();
  }
}

async function readInput(file: string | undefined): Promise<Buffer> {
  if (file !== undefined) return readFileSync(file);
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** All lines are validated first (nothing is stored if one is bad); then appended in transactions of max_batch_events. */
async function ingest(config: AgentConfig, file: string | undefined, oneJson: boolean): Promise<number> {
  const body = await readInput(file);
  const parsed = parseEvents(body, oneJson ? 'json' : 'ndjson', { maxEventBytes: config.ingest.max_event_bytes, maxBatchEvents: Number.MAX_SAFE_INTEGER });
  if (!parsed.ok) {
    const r = parsed.rejection;
    process.stderr.write(`error: ${r.message}${r.field === undefined ? '' : ` (field ${r.field})`}\nhint: ${r.hint}\n`);
    return 1;
  }
  const journal = openJournalForConfig(config);
  try {
    const ranges = [];
    for (let i = 0; i < parsed.events.length; i += config.ingest.max_batch_events) {
      try {
        ranges.push(journal.append(parsed.events.slice(i, i + config.ingest.max_batch_events), Date.now()));
      } catch (error) {
        const accepted = ranges.reduce((s, r) => s + r.count, 0);
        if (accepted > 0) process.stderr.write(`note: the first ${accepted} events were stored (seq ${ranges[0]?.first_seq ?? 0}-${ranges.at(-1)?.last_seq ?? 0}); the rest were not\n`);
        throw error;
      }
    }
    const accepted = ranges.reduce((s, r) => s + r.count, 0);
    await write(`${JSON.stringify({ accepted, first_seq: ranges[0]?.first_seq ?? 0, last_seq: ranges.at(-1)?.last_seq ?? 0, journal_id: journal.journalId })}\n`);
    return 0;
  } finally {
    journal.close();
  }
}

async function rpc(configPath: string, config: AgentConfig): Promise<number> {
  const { serveRpc } = await import('./rpc/rpcServer.ts');
  const createHealthSource = await loadHealthSource();
  const journal = openJournalForConfig(config);
  const health = createHealthSource({ config, journal, agentVersion, log: (line) => process.stderr.write(`${line}\n`) });
  try {
    await serveRpc(process.stdin, process.stdout, { journal, health, config: createConfigStore(configPath, config), agentVersion });
    return 0;
  } finally {
    health.close();
    journal.close();
    // After a 'bye' on a serial console stdin is still an open tty: let go of it, or the
    // process would never exit and the console would never get its shell back.
    process.stdin.destroy();
  }
}

/** `backup-stream`: the class's tar on stdout; a reader that goes away (EPIPE) or a signal fails it. */
async function backupStream(configPath: string, config: AgentConfig, cls: string | undefined, paths: readonly string[]): Promise<number> {
  const { BackupClassSchema } = await import('../shared/backupStream.ts');
  const parsed = BackupClassSchema.safeParse(cls);
  if (!parsed.success) throw new UsageError(`backup-stream needs --class config, state, data or secrets${cls === undefined ? '' : `, not '${cls}'`}`);
  const { writeClassStream, removeTempSnapshotsNow } = await import('./backup/classStream.ts');
  const { stdoutSink } = await import('./backup/stdoutSink.ts');
  const onSignal = (signal: NodeJS.Signals): void => {
    removeTempSnapshotsNow();
    process.stderr.write(`error: stopped by ${signal}: the stream is incomplete and is not a backup\nhint: Run the backup again.\n`);
    process.exit(1);
  };
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.once(signal, onSignal);
  const out = stdoutSink(process.stdout);
  const manifest = await writeClassStream({
    cls: parsed.data,
    config,
    configPath,
    extraPaths: paths,
    agentVersion,
    sink: out.sink,
    note: (message) => process.stderr.write(`note: ${message}\n`),
  });
  const bytes = manifest.files.reduce((sum, f) => sum + f.size, 0);
  process.stderr.write(`backup-stream: ${manifest.class}: ${String(manifest.files.length)} files, ${String(bytes)} bytes${manifest.missing.length === 0 ? '' : `; missing: ${manifest.missing.join(', ')}`}\n`);
  return 0;
}

/** `backup-probe`: each class's change token as JSON on stdout (agent/backup/probeCommand.ts). */
async function backupProbe(configPath: string, config: AgentConfig, classes: string, paths: readonly string[]): Promise<number> {
  const { probeClasses } = await import('./backup/probeCommand.ts');
  const answer = probeClasses({ config, configPath, agentVersion, classes, paths });
  if ('usage' in answer) throw new UsageError(answer.usage);
  await write(answer.output);
  return 0;
}

function versionInfo(): Record<string, string> {
  return { agent_version: agentVersion, node_version: process.versions.node, sqlite_version: process.versions.sqlite ?? '', platform: platform(), arch: arch() };
}

async function main(argv: readonly string[]): Promise<number> {
  let args: Args;
  try {
    args = parseCommandLine(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`error: ${error.message}\n\n${usage}`);
    return 2;
  }
  if (args.command === 'help') {
    await write(usage);
    return 0;
  }
  if (args.command === 'version') {
    await write(`${JSON.stringify(versionInfo())}\n`);
    return 0;
  }
  try {
    const configPath = resolveConfigPath(args.config);
    const config = loadConfig(configPath);
    const v = args.values;
    switch (args.command) {
      case 'run':
        return await runDaemon(config);
      case 'status':
        return await status(config, v.json === true);
      case 'export':
        return await exportRecords(config, args.after, args.limit, v.losses === true);
      case 'ingest':
        return await ingest(config, typeof v.file === 'string' ? v.file : undefined, v.json === true);
      case 'rpc':
        return await rpc(configPath, config);
      case 'backup-stream':
        return await backupStream(configPath, config, typeof v.class === 'string' ? v.class : undefined, Array.isArray(v.path) ? v.path : []);
      case 'backup-probe':
        return await backupProbe(configPath, config, typeof v.classes === 'string' ? v.classes : '', Array.isArray(v.path) ? v.path : []);
      case 'backup-restore':
        return await (await import('./backup/restoreCommand.ts')).backupRestore(configPath, v, (message) => new UsageError(message));
      case 'journal-replaces':
        return await (await import('./journal/replacesCommand.ts')).journalReplaces(config, v, (message) => new UsageError(message));
      default:
        throw new UsageError(`unknown command '${args.command}'`);
    }
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`error: ${error.message}\n\n${usage}`);
      return 2;
    }
    if (isFieldkitError(error)) {
      process.stderr.write(`error: ${error.appError.message}\nhint: ${error.appError.hint}\n`);
      return 1;
    }
    const hint = (error as { hint?: unknown }).hint;
    process.stderr.write(`error: ${error instanceof Error ? error.message : String(error)}\n${typeof hint === 'string' ? `hint: ${hint}\n` : ''}`);
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
