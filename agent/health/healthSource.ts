/**
 * The health sampler: one cheap sample of the Pi (1 Hz), from /proc, /sys, statfs, the
 * journal and, where present, `vcgencmd get_throttled` and `nvme smart-log`.
 *
 * Cheap means: a handful of small file reads and one statfs per disk; the only process
 * spawned per sample is vcgencmd (skipped for good when it is missing, retried slowly
 * when it fails); NVMe and eMMC wear change over months and are read at most once a
 * minute. Anything unreadable is null ("unknown"), never a healthy-looking zero.
 *
 * The daemon passes `record: true`: it then samples on its own timer and keeps the
 * per-minute history and notable events in health.db. Other processes (an `rpc` started
 * by a laptop) sample on demand and read that history.
 */
import { statfsSync } from 'node:fs';
import { join } from 'node:path';
import type { AgentConfig } from '../../shared/agentConfig.ts';
import type { DeviceSnapshotStatus } from '../../shared/backupStream.ts';
import type { HealthSample } from '../../shared/health.ts';
import { readLastAttempt, snapshotStatus } from '../backup/snapshotFolder.ts';
import type { Journal } from '../journal/journalApi.ts';
import type { UplinkStatus } from '../uplink/uplinkStatus.ts';
import { UPLINK_OFF } from '../uplink/uplinkStatus.ts';
import { createServiceProbe, type ServiceProbe } from './agentService.ts';
import { createCpuMeter } from './cpuMeter.ts';
import type { HealthSource } from './healthApi.ts';
import { HEALTH_DB_FILE, readHealthHistory } from './healthHistory.ts';
import { sampleLoop, startRecording, type HealthRecorder } from './healthRecorder.ts';
import { createInferenceLatency } from './inferenceLatency.ts';
import { createJournalGauge } from './journalGauge.ts';
import { createThrottlingReader, createVoltAlarmReader } from './powerSensors.ts';
import { parseLoadavg, parseMeminfo, parseMillidegrees, parseUptime } from './procSysParsers.ts';
import type { RunCommand } from './runCommand.ts';
import { runCommand as defaultRunCommand } from './runCommand.ts';
import { createEmmcWearReader, createNvmeWearReader } from './storageWear.ts';
import { readText } from './sysText.ts';

export type HealthSourceOptions = {
  config: AgentConfig;
  journal: Journal;
  agentVersion: string;
  now?: () => number;
  runCommand?: RunCommand;
  /** The uplink's status when it runs in this process (the daemon); 'off' otherwise. */
  uplinkState?: () => UplinkStatus;
  /** Only the daemon: sample every `config.health.interval_ms` and keep history in health.db. */
  record?: boolean;
  /** Told about history write failures (a full disk must not stop sampling). */
  log?: (message: string) => void;
  /**
   * Say in each sample whether the agent daemon runs (agentService.ts). On by default in
   * every process but the daemon, whose own samples need not ask about themselves.
   */
  serviceState?: boolean;
  /** Where systemd says it is PID 1 (tests point it elsewhere). */
  systemdRunDir?: string;
  /**
   * The state snapshots' status: the daemon passes its scheduler's; other processes read the
   * snapshot folder and the daemon's last-attempt file (agent/backup/snapshotFolder.ts).
   */
  backupSnapshots?: () => DeviceSnapshotStatus;
};

/** Only the fields a health sample carries (the uplink's own status has more). */
function uplinkSummary(status: UplinkStatus): UplinkStatus {
  return { state: status.state, last_forward_ms: status.last_forward_ms, last_error: status.last_error };
}

export function createHealthSource(options: HealthSourceOptions): HealthSource {
  const { config, journal, agentVersion } = options;
  const now = options.now ?? Date.now;
  const run = options.runCommand ?? defaultRunCommand;
  const uplinkState = options.uplinkState ?? ((): UplinkStatus => UPLINK_OFF);
  const log = options.log ?? ((): void => undefined);
  const proc = config.health.proc_root;
  const sys = config.health.sys_root;
  const historyPath = join(config.data_dir, HEALTH_DB_FILE);
  const latency = createInferenceLatency();
  const backupSnapshots = options.backupSnapshots ?? ((): DeviceSnapshotStatus => snapshotStatus(config, readLastAttempt(config.data_dir)?.error ?? null));
  const service: ServiceProbe | null =
    (options.serviceState ?? options.record !== true) ? createServiceProbe({ config, journal, runCommand: defaultRunCommand, now, systemdRunDir: options.systemdRunDir }) : null;

  const cpu = createCpuMeter(proc);
  const throttling = createThrottlingReader(config.health.vcgencmd, run, now);
  const voltAlarm = createVoltAlarmReader(sys, now);
  const emmc = createEmmcWearReader(sys, now);
  const nvme = createNvmeWearReader(config.health.nvme, sys, run, now);
  const journalGauge = createJournalGauge(journal, log);

  function readDisks(): HealthSample['disks'] {
    const disks: HealthSample['disks'] = [];
    for (const path of new Set([config.data_dir, '/'])) {
      try {
        const s = statfsSync(path);
        // bavail, not bfree: what a non-root writer (the journal) can still use.
        disks.push({ path, total_bytes: s.blocks * s.bsize, free_bytes: s.bavail * s.bsize });
      } catch {
        // The data dir may not exist yet on a fresh install: leave it out.
      }
    }
    return disks;
  }

  async function sample(): Promise<HealthSample> {
    const [cpuPct, throttlingState, nvmeHealth, serviceState] = await Promise.all([cpu.measure(), throttling.read(), nvme.read(), service?.read()]);
    const at = now();
    const mem = parseMeminfo(readText(join(proc, 'meminfo')) ?? '');
    const tempText = readText(join(sys, 'class', 'thermal', 'thermal_zone0', 'temp'));
    const journalHealth = journalGauge.read(at);
    const inference = latency.update(journal, journalGauge.lastInfo()?.last_seq ?? 0, at);
    return {
      at_ms: at,
      device_id: config.device_id,
      uptime_s: parseUptime(readText(join(proc, 'uptime')) ?? '') ?? 0,
      cpu_pct: cpuPct === null ? null : Math.round(cpuPct * 10) / 10,
      load: parseLoadavg(readText(join(proc, 'loadavg')) ?? '') ?? [0, 0, 0],
      mem_total_bytes: mem?.total ?? 0,
      mem_available_bytes: mem?.available ?? 0,
      disks: readDisks(),
      temp_c: tempText === null ? null : parseMillidegrees(tempText),
      throttling: throttlingState,
      volt_alarm: voltAlarm.read(),
      emmc: emmc.read(),
      nvme: nvmeHealth,
      journal: journalHealth,
      uplink: uplinkSummary(uplinkState()),
      agent_version: agentVersion,
      model_version: config.model_version === '' ? null : config.model_version,
      inference,
      ...(serviceState === undefined ? {} : { service: serviceState }),
      backup_snapshots: backupSnapshots(),
    };
  }

  const watch = (intervalMs: number, onSample: (s: HealthSample) => void): (() => void) => sampleLoop(sample, log, intervalMs, onSample);
  let recorder: HealthRecorder | null =
    options.record === true ? startRecording({ historyPath, intervalMs: config.health.interval_ms, agentVersion, now, log, watch }) : null;

  return {
    sample,
    watch,
    history(sinceMs) {
      return readHealthHistory(historyPath, sinceMs);
    },
    close() {
      if (recorder === null) return;
      recorder.close();
      recorder = null;
    },
  };
}
