/**
 * Whether the agent daemon runs, for the health sample of any agent process (the `rpc` a
 * laptop starts samples the Pi whether or not the daemon runs, so a sample must say).
 *
 * - systemd, when it manages a loaded fieldkit-agent.service: `systemctl show` (ActiveState,
 *   SubState, Result, NRestarts, MainPID, start time).
 * - otherwise (the demo site, tests, a hand-started daemon): the daemon's pid file
 *   (daemon.json) and whether that process lives. "Running" is never assumed: no record,
 *   a clean stop or a dead pid each say so.
 * - in both, liveness is asked of the daemon itself: GET /health on its ingest port, which
 *   must answer for this journal. A process that lives but stops answering is wedged.
 * - the journal's last commit and whether its file and folder can be written.
 *
 * Reads run in the background, one at a time; a sample takes the latest finished reading
 * (the first sample waits for one), so a slow systemctl or a wedged daemon never delays
 * the 1 Hz samples.
 */
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname } from 'node:path';
import type { AgentConfig } from '../../shared/agentConfig.ts';
import type { AgentService } from '../../shared/health.ts';
import type { Journal } from '../journal/journalApi.ts';
import { journalPath } from '../journal/openJournal.ts';
import { CRASH_WINDOW_MS, readDaemonState, type DaemonState } from './daemonStateFile.ts';
import { parseSystemctlShow, type UnitState } from './procSysParsers.ts';
import type { RunCommand } from './runCommand.ts';

export const SERVICE_UNIT = 'fieldkit-agent.service';
const SYSTEMCTL_TIMEOUT_MS = 2_000;
const PROBE_TIMEOUT_MS = 1_500;
/** A host without the unit is asked again this rarely (systemd may be there but the agent runs by hand). */
const NO_UNIT_RECHECK_MS = 30_000;

export type ServiceProbeOptions = {
  config: AgentConfig;
  journal: Journal;
  runCommand: RunCommand;
  now?: () => number;
  /** Where systemd says it is PID 1; a test points it elsewhere. */
  systemdRunDir?: string;
  probeTimeoutMs?: number;
};

export type ServiceProbe = { read(): Promise<AgentService> };

type Reading = Omit<AgentService, 'silent_s' | 'recent_crashes'> & { fileCrashes: number };

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Where the sampler asks: the daemon's own address, or loopback when it listens on every address. */
function probeTarget(config: AgentConfig): { host: string; port: number } {
  const host = config.ingest.host;
  return { host: host === '0.0.0.0' || host === '::' || host === '' ? '127.0.0.1' : host, port: config.ingest.port };
}

/**
 * GET /health over a bare socket (HTTP/1.0, connection closed by the server): a tenth of
 * what fetch costs per request, which matters once a second on a Pi. Resolves with the
 * parsed body of a 200, or null (refused, timed out, anything else).
 */
function getHealth(target: { host: string; port: number }, timeoutMs: number): Promise<unknown> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const socket = connect(target);
    socket.setTimeout(timeoutMs, () => socket.destroy());
    socket.on('connect', () => socket.end(`GET /health HTTP/1.0\r\nHost: ${target.host}\r\n\r\n`));
    socket.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > 64 * 1024) socket.destroy();
      else chunks.push(chunk);
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const split = text.indexOf('\r\n\r\n');
      if (!/^HTTP\/1\.[01] 200 /.test(text) || split < 0) {
        resolve(null);
        return;
      }
      try {
        resolve(JSON.parse(text.slice(split + 4)));
      } catch {
        resolve(null);
      }
    });
  });
}

/** Alive (signal 0 reaches it; EPERM: alive, another user's), and stopped by a signal (state T). */
function processState(pid: number): { alive: boolean; stopped: boolean } {
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as { code?: unknown }).code !== 'EPERM') return { alive: false, stopped: false };
  }
  try {
    // "pid (comm) S …": the state follows the last ')' (comm may hold spaces and parens).
    const stat = readFileSync(`/proc/${String(pid)}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    if (state === 'Z' || state === 'X') return { alive: false, stopped: false };
    return { alive: true, stopped: state === 'T' || state === 't' };
  } catch {
    return { alive: true, stopped: false };
  }
}

function clockTime(ms: number): string {
  return new Date(ms).toISOString().slice(11, 19) + ' UTC';
}

function journalWritable(config: AgentConfig): { writable: boolean | null; error: string | null } {
  const file = journalPath(config.data_dir);
  try {
    // access(2) W_OK fails with EROFS on a read-only filesystem and EACCES for a wrong owner.
    accessSync(dirname(file), constants.W_OK);
    if (existsSync(file)) accessSync(file, constants.W_OK);
    return { writable: true, error: null };
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === 'ENOENT') return { writable: null, error: null };
    return { writable: false, error: code === 'EROFS' ? 'the filesystem is read-only' : message(error) };
  }
}

/** When the journal last took a record: read again only when its last seq moved. */
function createLastCommit(journal: Journal): () => number | null {
  let seenSeq = -1;
  let atMs: number | null = null;
  return () => {
    try {
      const last = journal.info().last_seq;
      if (last !== seenSeq) {
        seenSeq = last;
        atMs = last === 0 ? null : (journal.read({ after_seq: last - 1, limit: 1, max_bytes: 1 })[0]?.recv_ms ?? null);
      }
    } catch {
      // Unreadable this time: keep what was known.
    }
    return atMs;
  };
}

/** The process view, where no systemd unit is there to ask. */
function fromPidFile(daemon: DaemonState | null, fileError: string | null, answered: boolean): Pick<AgentService, 'state' | 'detail' | 'pid' | 'process_stopped' | 'started_ms'> {
  if (daemon === null) {
    if (answered) return { state: 'running', detail: 'answering; no daemon.json', pid: null, process_stopped: false, started_ms: null };
    if (fileError !== null) return { state: 'unknown', detail: fileError, pid: null, process_stopped: false, started_ms: null };
    return { state: 'stopped', detail: 'no daemon has run with this data folder (no daemon.json), and none answers', pid: null, process_stopped: false, started_ms: null };
  }
  const base = { pid: daemon.pid, started_ms: daemon.started_ms };
  const proc = processState(daemon.pid);
  if (daemon.stopped_ms !== null && !answered) {
    return { ...base, state: 'stopped', detail: `stopped cleanly at ${clockTime(daemon.stopped_ms)}`, process_stopped: false };
  }
  if (proc.alive || answered) return { ...base, state: 'running', detail: `pid ${String(daemon.pid)}`, process_stopped: proc.stopped };
  return { ...base, state: 'failed', detail: `pid ${String(daemon.pid)} is gone without a clean stop`, process_stopped: false };
}

function stateOfUnit(unit: UnitState): AgentService['state'] {
  switch (unit.activeState) {
    case 'active':
    case 'reloading':
      return 'running';
    case 'activating':
      return unit.subState === 'auto-restart' ? 'restarting' : 'starting';
    case 'deactivating':
      return 'stopping';
    case 'inactive':
      return 'stopped';
    case 'failed':
      return 'failed';
    default:
      return 'unknown';
  }
}

/** The systemd view of the unit; the pid file fills in what systemd does not say. */
function unitReading(unit: UnitState, daemon: DaemonState | null, nowMs: number): Pick<AgentService, 'state' | 'detail' | 'pid' | 'process_stopped' | 'started_ms' | 'restarts'> {
  if (unit.loadState === 'error') return { state: 'unknown', detail: `systemctl failed: ${unit.subState}`, pid: null, process_stopped: false, started_ms: null, restarts: null };
  const result = unit.result !== '' && unit.result !== 'success' ? ` (${unit.result})` : '';
  const pid = unit.mainPid ?? (daemon?.stopped_ms === null ? daemon.pid : null);
  // MainPID's start, on the monotonic clock systemd and process.hrtime share.
  const startedMs = unit.startMonotonicUs === null ? (daemon?.started_ms ?? null) : Math.round(nowMs - (Number(process.hrtime.bigint() / 1000n) - unit.startMonotonicUs) / 1000);
  return {
    state: stateOfUnit(unit),
    detail: `${unit.activeState}/${unit.subState}${result}`,
    pid,
    process_stopped: unit.mainPid === null ? false : processState(unit.mainPid).stopped,
    started_ms: startedMs,
    restarts: unit.restarts,
  };
}

/** Crashes in the window: daemon.json's, or the systemd restarts seen meanwhile, whichever says more. */
function recentCrashes(reading: Reading, restartsSeen: readonly { restarts: number }[], at: number): number {
  let seen = 0;
  // Summed increments: a start by hand resets NRestarts to 0.
  for (let i = 1; i < restartsSeen.length; i++) seen += Math.max(0, (restartsSeen[i]?.restarts ?? 0) - (restartsSeen[i - 1]?.restarts ?? 0));
  // Restarted recently, before this process began watching: at least that once.
  if (seen === 0 && reading.restarts !== null && reading.restarts > 0 && reading.started_ms !== null && reading.started_ms > at - CRASH_WINDOW_MS) seen = 1;
  return Math.max(reading.fileCrashes, seen);
}

export function createServiceProbe(options: ServiceProbeOptions): ServiceProbe {
  const { config, journal } = options;
  const now = options.now ?? Date.now;
  const systemdRunDir = options.systemdRunDir ?? '/run/systemd/system';
  const target = probeTarget(config);
  const startedAskingMs = now();
  let answeredMs: number | null = null;
  let noUnitUntil = 0;
  /** NRestarts as this process saw it over time, for restarts that left no trace in daemon.json (a crash at start). */
  const lastCommitMs = createLastCommit(journal);
  const restartsSeen: { atMs: number; restarts: number }[] = [];
  let latest: Reading | null = null;
  let refreshing: Promise<void> | null = null;

  async function askDaemon(): Promise<boolean> {
    const body = (await getHealth(target, options.probeTimeoutMs ?? PROBE_TIMEOUT_MS)) as { ok?: unknown; journal_id?: unknown } | null;
    // Another agent on the same port (a second data folder) is not ours.
    return body !== null && body.ok === true && body.journal_id === journal.journalId;
  }

  async function askSystemd(): Promise<UnitState | null> {
    if (now() < noUnitUntil || !existsSync(systemdRunDir)) return null;
    const props = 'LoadState,ActiveState,SubState,Result,NRestarts,MainPID,ExecMainStartTimestampMonotonic';
    let unit: UnitState | null;
    try {
      unit = parseSystemctlShow(await options.runCommand('systemctl', ['show', SERVICE_UNIT, '-p', props], { timeoutMs: SYSTEMCTL_TIMEOUT_MS }));
    } catch (error) {
      return { loadState: 'error', activeState: 'unknown', subState: message(error).split('\n')[0] ?? '', result: '', restarts: null, mainPid: null, startMonotonicUs: null };
    }
    if (unit === null || unit.loadState === 'not-found') {
      noUnitUntil = now() + NO_UNIT_RECHECK_MS;
      return null;
    }
    return unit;
  }

  async function refresh(): Promise<void> {
    const [answered, unit] = await Promise.all([askDaemon(), askSystemd()]);
    const at = now();
    if (answered) answeredMs = at;
    const { state: daemon, error: fileError } = readDaemonState(config.data_dir);
    const fileCrashes = (daemon?.crash_restarts_ms ?? []).filter((t) => t > at - CRASH_WINDOW_MS).length;
    const journalState = journalWritable(config);
    const common = { answered_ms: answeredMs, last_commit_ms: lastCommitMs(), journal_writable: journalState.writable, journal_error: journalState.error, fileCrashes };
    if (unit !== null) {
      latest = { manager: 'systemd', ...unitReading(unit, daemon, at), ...common };
      if (unit.restarts !== null) restartsSeen.push({ atMs: at, restarts: unit.restarts });
    } else {
      latest = { manager: 'process', ...fromPidFile(daemon, fileError, answered), restarts: null, ...common };
    }
    while ((restartsSeen[0]?.atMs ?? at) < at - CRASH_WINDOW_MS) restartsSeen.shift();
  }

  return {
    async read() {
      if (refreshing === null) {
        refreshing = refresh()
          .catch((error: unknown) => {
            latest = { manager: 'process', state: 'unknown', detail: `could not read the service state: ${message(error)}`, pid: null, process_stopped: false, started_ms: null, restarts: null, answered_ms: answeredMs, last_commit_ms: null, journal_writable: null, journal_error: null, fileCrashes: 0 };
          })
          .finally(() => {
            refreshing = null;
          });
      }
      if (latest === null) await refreshing;
      const reading: Reading | null = latest;
      if (reading === null) throw new Error('the service state was not read');
      const at = now();
      const answering = reading.answered_ms !== null && at - reading.answered_ms < 2 * PROBE_TIMEOUT_MS;
      const silentSince = reading.answered_ms ?? startedAskingMs;
      const service: AgentService = {
        manager: reading.manager,
        state: reading.state,
        detail: reading.detail,
        pid: reading.pid,
        process_stopped: reading.process_stopped,
        started_ms: reading.started_ms,
        restarts: reading.restarts,
        recent_crashes: recentCrashes(reading, restartsSeen, at),
        answered_ms: reading.answered_ms,
        silent_s: answering ? 0 : Math.max(0, Math.round((at - silentSince) / 100) / 10),
        last_commit_ms: reading.last_commit_ms,
        journal_writable: reading.journal_writable,
        journal_error: reading.journal_error,
      };
      return service;
    },
  };
}
