/**
 * The daemon's own record in its data folder (`daemon.json`): its pid and start time, when
 * it stopped cleanly, and the recent starts that followed an unclean end in the same boot
 * (a crash, kill -9, an exit with an error). Written at start and at a clean stop only,
 * never on a timer, so no SD card is worn by a heartbeat: whether the daemon is alive is
 * asked of the daemon itself (agentService.ts). Read by any agent process (the `rpc` the
 * laptop starts) to say whether the daemon runs where there is no systemd unit to ask.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { writeFileAtomic } from '../config/loadConfig.ts';

export const DAEMON_STATE_FILE = 'daemon.json';
/** Crashes older than this are forgotten: a crash loop is judged over this window. */
export const CRASH_WINDOW_MS = 10 * 60_000;
const MAX_CRASHES_KEPT = 20;

const DaemonStateSchema = z.object({
  pid: z.number().int().positive(),
  started_ms: z.number().int(),
  /** Set by a clean stop (SIGTERM, SIGINT); null while it runs, or after it died. */
  stopped_ms: z.number().int().nullable(),
  agent_version: z.string(),
  /** The kernel's boot id at start: an unclean end in an earlier boot was a power cut or reboot, not a crash. */
  boot_id: z.string().nullable(),
  /** Start times (ms) that followed an unclean end in the same boot, newest last. */
  crash_restarts_ms: z.array(z.number().int()),
});
export type DaemonState = z.infer<typeof DaemonStateSchema>;

export function daemonStatePath(dataDir: string): string {
  return join(dataDir, DAEMON_STATE_FILE);
}

/** The record, null when there is none (never started here), or why it cannot be read. */
export function readDaemonState(dataDir: string): { state: DaemonState | null; error: string | null } {
  let text: string;
  try {
    text = readFileSync(daemonStatePath(dataDir), 'utf8');
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === 'ENOENT') return { state: null, error: null };
    return { state: null, error: `cannot read ${DAEMON_STATE_FILE}: ${error instanceof Error ? error.message : String(error)}` };
  }
  try {
    const parsed = DaemonStateSchema.safeParse(JSON.parse(text));
    return parsed.success ? { state: parsed.data, error: null } : { state: null, error: `${DAEMON_STATE_FILE} is not a daemon record` };
  } catch {
    return { state: null, error: `${DAEMON_STATE_FILE} is not valid JSON` };
  }
}

/** Records this process as the running daemon; an earlier run that did not stop cleanly in this boot counts as a crash. */
export function recordDaemonStart(dataDir: string, options: { pid: number; nowMs: number; agentVersion: string; bootId: string | null }): DaemonState {
  const previous = readDaemonState(dataDir).state;
  const crashes = (previous?.crash_restarts_ms ?? []).filter((at) => at > options.nowMs - CRASH_WINDOW_MS);
  const sameBoot = previous !== null && previous.boot_id !== null && previous.boot_id === options.bootId;
  if (previous !== null && previous.stopped_ms === null && previous.pid !== options.pid && sameBoot) crashes.push(options.nowMs);
  const state: DaemonState = {
    pid: options.pid,
    started_ms: options.nowMs,
    stopped_ms: null,
    agent_version: options.agentVersion,
    boot_id: options.bootId,
    crash_restarts_ms: crashes.slice(-MAX_CRASHES_KEPT),
  };
  writeFileAtomic(daemonStatePath(dataDir), `${JSON.stringify(state)}\n`, 0o640);
  return state;
}

/** A clean stop: the record says so, and the next start is not a crash. */
export function recordDaemonStop(dataDir: string, state: DaemonState, nowMs: number): void {
  writeFileAtomic(daemonStatePath(dataDir), `${JSON.stringify({ ...state, stopped_ms: nowMs })}\n`, 0o640);
}
