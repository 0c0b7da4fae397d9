/**
 * `fieldkit-agent run`: the long-running agent. Opens the journal, takes events over HTTP
 * (and MQTT when configured), enforces retention on a timer, samples health and, when
 * configured, forwards to ClickHouse itself. Logs JSON lines to stderr.
 *
 * Stopping (SIGTERM from systemd, or SIGINT): stop taking new work, let every request in
 * flight reach its commit and its answer, ack the MQTT message being committed, stop the
 * uplink and the sampler, close the journal. Anything acknowledged was durable already;
 * the stop only avoids refusing producers half-way.
 */
import type { AgentConfig } from '../shared/agentConfig.ts';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { recordDaemonStart, recordDaemonStop, type DaemonState } from './health/daemonStateFile.ts';
import { startStateSnapshots } from './backup/stateSnapshots.ts';
import { createHealthSource } from './health/healthSource.ts';
import type { HealthSource } from './health/healthApi.ts';
import { createGroupCommitter } from './ingest/groupCommit.ts';
import { startHttpIngest, type HttpIngest } from './ingest/httpIngest.ts';
import { createIngestMetrics } from './ingest/ingestMetrics.ts';
import { startMqttIngest, type MqttIngest } from './ingest/mqttIngest.ts';
import type { Journal } from './journal/journalApi.ts';
import { openJournalForConfig } from './journal/openJournal.ts';
import type { Logger } from './jsonLog.ts';
import { startUplink, type Uplink } from './uplink/uplink.ts';

/** How often retention runs besides on append (max age needs a clock, not an append). */
const retentionIntervalMs = 60_000;

export type DaemonOptions = {
  config: AgentConfig;
  agentVersion: string;
  log: Logger;
  retentionIntervalMs?: number;
};

export type Daemon = {
  readonly journal: Journal;
  readonly http: HttpIngest;
  /** Graceful stop; resolves once everything is closed. */
  stop(): Promise<void>;
};

export async function startDaemon(options: DaemonOptions): Promise<Daemon> {
  const { config, agentVersion, log } = options;
  const startedMs = Date.now();
  const journal = openJournalForConfig(config);
  const info = journal.info();
  log('info', 'journal open', { device_id: info.device_id, journal_id: info.journal_id, last_seq: info.last_seq, records: info.records, bytes: info.bytes, budget_bytes: info.budget_bytes });

  const metrics = createIngestMetrics();
  const committer = createGroupCommitter(journal, {
    onCommit: () => {
      metrics.commits.inc();
    },
  });

  const closers: { what: string; close: () => Promise<void> | void }[] = [];
  closers.push({ what: 'journal', close: () => { journal.close(); } });
  try {
    // The pid file other agent processes read to tell whether the daemon runs (no systemd
    // unit to ask, as on the demo site) and whether it has been crashing; a clean stop
    // says so last, after everything else closed.
    let daemonState: DaemonState | null = null;
    try {
      daemonState = recordDaemonStart(config.data_dir, { pid: process.pid, nowMs: startedMs, agentVersion, bootId: readBootId(config) });
      if (daemonState.crash_restarts_ms.at(-1) === startedMs) log('warn', 'the previous run ended without a clean stop (crash or kill)', { crashes_in_10_min: daemonState.crash_restarts_ms.length });
    } catch (error) {
      // Not fatal: a daemon that answers is seen running without it.
      log('warn', 'cannot write daemon.json', { error: error instanceof Error ? error.message : String(error) });
    }
    const started = daemonState;
    if (started !== null) closers.push({ what: 'daemon record', close: () => { recordDaemonStop(config.data_dir, started, Date.now()); } });
    // The uplink's status feeds health samples; the sampler is made after it.
    const uplink: Uplink = startUplink({ config, journal, log: (message) => { log('info', message, { part: 'uplink' }); } });
    closers.push({ what: 'uplink', close: () => uplink.stop() });
    // Scheduled consistent snapshots of the state databases (agent/backup/README.md).
    const snapshots = startStateSnapshots({ config, log });
    closers.push({ what: 'state snapshots', close: () => snapshots.stop() });
    const health: HealthSource = createHealthSource({
      config,
      journal,
      agentVersion,
      record: true,
      uplinkState: () => uplink.status(),
      backupSnapshots: () => snapshots.status(),
      log: (message) => { log('warn', message, { part: 'health' }); },
    });
    closers.push({ what: 'health', close: () => { health.close(); } });

    const http = await startHttpIngest({
      host: config.ingest.host,
      port: config.ingest.port,
      journal,
      committer,
      metrics,
      limits: { maxEventBytes: config.ingest.max_event_bytes, maxBatchEvents: config.ingest.max_batch_events, maxPendingRequests: config.ingest.max_pending_requests },
      agentVersion,
      log,
      health: () => health.sample(),
      startedMs,
    });
    closers.push({ what: 'http ingest', close: () => http.close() });

    let mqtt: MqttIngest | null = null;
    if (config.mqtt !== null) {
      mqtt = startMqttIngest({ mqtt: config.mqtt, deviceId: config.device_id, committer, metrics, maxEventBytes: config.ingest.max_event_bytes, log });
      const started = mqtt;
      closers.push({ what: 'mqtt ingest', close: () => started.close() });
    }

    const enforce = (): void => {
      try {
        const losses = journal.enforceRetention(Date.now());
        for (const loss of losses) log('warn', 'retention dropped unconfirmed records', { ...loss });
      } catch (error) {
        log('error', 'retention failed', { error: error instanceof Error ? error.message : String(error) });
      }
    };
    enforce();
    const retention = setInterval(enforce, options.retentionIntervalMs ?? retentionIntervalMs);
    closers.push({ what: 'retention timer', close: () => { clearInterval(retention); } });

    log('info', 'agent running', { version: agentVersion, http: http.url, mqtt: config.mqtt?.url ?? null, uplink: config.uplink?.url ?? null });

    let stopping: Promise<void> | null = null;
    return {
      journal,
      http,
      stop() {
        stopping ??= closeAll(closers, log);
        return stopping;
      },
    };
  } catch (error) {
    await closeAll(closers, log);
    throw error;
  }
}

function readBootId(config: AgentConfig): string | null {
  try {
    return readFileSync(join(config.health.proc_root, 'sys/kernel/random/boot_id'), 'utf8').trim() || null;
  } catch {
    return null;
  }
}

/** Closes in reverse order of opening, so producers stop before the journal closes. */
async function closeAll(closers: { what: string; close: () => Promise<void> | void }[], log: Logger): Promise<void> {
  for (const { what, close } of closers.splice(0).reverse()) {
    try {
      await close();
    } catch (error) {
      log('error', `closing the ${what} failed`, { error: error instanceof Error ? error.message : String(error) });
    }
  }
}
