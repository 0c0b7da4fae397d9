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
import { existsSync, readdirSync, readFileSync, statfsSync } from 'node:fs';
import { join } from 'node:path';
import type { AgentConfig } from '../../shared/agentConfig.ts';
import type { HealthEvent, HealthMinute, HealthSample } from '../../shared/health.ts';
import type { JournalInfo } from '../../shared/journal.ts';
import { decodeThrottled, parseGetThrottled } from '../../shared/throttling.ts';
import type { Journal } from '../journal/journalApi.ts';
import type { UplinkStatus } from '../uplink/uplinkStatus.ts';
import { UPLINK_OFF } from '../uplink/uplinkStatus.ts';
import { createServiceProbe, type ServiceProbe } from './agentService.ts';
import type { HealthSource } from './healthApi.ts';
import { HEALTH_DB_FILE, openHealthHistoryWriter, readHealthHistory } from './healthHistory.ts';
import type { HealthHistoryWriter } from './healthHistory.ts';
import { createMinuteAccumulator, detectHealthEvents, initialConditionState } from './healthTimeline.ts';
import { createInferenceLatency } from './inferenceLatency.ts';
import type { CpuTimes, NvmeSmart } from './procSysParsers.ts';
import {
  cpuPercent,
  parseEmmcLifeTime,
  parseEmmcPreEol,
  parseLoadavg,
  parseMeminfo,
  parseMillidegrees,
  parseNvmeSmartLog,
  parseProcStatCpu,
  parseSysfsFlag,
  parseUptime,
} from './procSysParsers.ts';
import type { RunCommand } from './runCommand.ts';
import { runCommand as defaultRunCommand } from './runCommand.ts';

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
};

/** The first sample has no previous /proc/stat to compare with: it measures over this window. */
const FIRST_CPU_WINDOW_MS = 100;
const SLOW_REFRESH_MS = 60_000;
const VCGENCMD_TIMEOUT_MS = 2_000;
const VCGENCMD_RETRY_MS = 60_000;
const NVME_TIMEOUT_MS = 5_000;
const INGEST_RATE_WINDOW_MS = 5_000;
const NVME_DEVICE = 'nvme0';
const EMMC_DEVICE = 'mmcblk0';

function readText(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

/** Only the fields a health sample carries (the uplink's own status has more). */
function uplinkSummary(status: UplinkStatus): UplinkStatus {
  return { state: status.state, last_forward_ms: status.last_forward_ms, last_error: status.last_error };
}

function errorCode(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string' ? error.code : undefined;
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
  const service: ServiceProbe | null =
    (options.serviceState ?? options.record !== true) ? createServiceProbe({ config, journal, runCommand: defaultRunCommand, now, systemdRunDir: options.systemdRunDir }) : null;

  let previousCpu: CpuTimes | null = null;
  let lastCpuPct: number | null = null;
  let lastInfo: JournalInfo | null = null;
  const seqHistory: { at: number; seq: number }[] = [];

  // vcgencmd: 'absent' is final (the board has none); a failing one is retried slowly.
  let vcgencmdAbsent = config.health.vcgencmd === null;
  let vcgencmdRetryAt = 0;

  let hwmonDir: string | null = null;
  let hwmonScannedAt = -Infinity;

  let emmc: HealthSample['emmc'] = null;
  let emmcReadAt = -Infinity;

  let nvme: HealthSample['nvme'] = null;
  let nvmeReadAt = -Infinity;
  let nvmeRefresh: Promise<void> | null = null;
  let nvmeEverRead = false;

  function readCpu(): CpuTimes | null {
    const text = readText(join(proc, 'stat'));
    return text === null ? null : parseProcStatCpu(text);
  }

  async function measureCpu(): Promise<number | null> {
    let before = previousCpu;
    if (before === null) {
      before = readCpu();
      await new Promise((resolve) => setTimeout(resolve, FIRST_CPU_WINDOW_MS));
    }
    const current = readCpu();
    if (before === null || current === null) {
      previousCpu = current;
      return null;
    }
    const pct = cpuPercent(before, current);
    // Two samples within one clock tick (USER_HZ, 10 ms) see no change: keep the baseline
    // and repeat the last figure rather than report "unknown" to a second watcher.
    if (pct === null && current.total === before.total) {
      previousCpu = before;
      return lastCpuPct;
    }
    previousCpu = current;
    lastCpuPct = pct;
    return pct;
  }

  async function readThrottling(): Promise<HealthSample['throttling']> {
    const tool = config.health.vcgencmd;
    if (vcgencmdAbsent || tool === null || now() < vcgencmdRetryAt) return null;
    try {
      const raw = parseGetThrottled(await run(tool, ['get_throttled'], { timeoutMs: VCGENCMD_TIMEOUT_MS }));
      if (raw === null) {
        vcgencmdRetryAt = now() + VCGENCMD_RETRY_MS;
        return null;
      }
      return decodeThrottled(raw);
    } catch (error) {
      const code = errorCode(error);
      if (code === 'ENOENT' || code === 'EACCES') vcgencmdAbsent = true;
      else vcgencmdRetryAt = now() + VCGENCMD_RETRY_MS;
      return null;
    }
  }

  function findHwmon(name: string): string | null {
    const base = join(sys, 'class', 'hwmon');
    try {
      for (const entry of readdirSync(base)) {
        if (readText(join(base, entry, 'name'))?.trim() === name) return join(base, entry);
      }
    } catch {
      // No hwmon class at all (not a Pi, or a container): unknown.
    }
    return null;
  }

  function readVoltAlarm(): boolean | null {
    // hwmon numbering is not stable across boots or kernels, so find rpi_volt by name;
    // a board without it is rescanned only once a minute.
    if (hwmonDir === null && now() - hwmonScannedAt >= SLOW_REFRESH_MS) {
      hwmonScannedAt = now();
      hwmonDir = findHwmon('rpi_volt');
    }
    if (hwmonDir === null) return null;
    const text = readText(join(hwmonDir, 'in0_lcrit_alarm'));
    if (text === null) hwmonDir = null;
    return text === null ? null : parseSysfsFlag(text);
  }

  function readEmmc(): HealthSample['emmc'] {
    // The kernel reads EXT_CSD once at card init; these files change only across boots.
    if (now() - emmcReadAt < SLOW_REFRESH_MS) return emmc;
    emmcReadAt = now();
    const dir = join(sys, 'block', EMMC_DEVICE, 'device');
    const lifeText = readText(join(dir, 'life_time'));
    const eolText = readText(join(dir, 'pre_eol_info'));
    // An SD card has neither file: no eMMC wear to report.
    if (lifeText === null && eolText === null) {
      emmc = null;
      return emmc;
    }
    const life = lifeText === null ? null : parseEmmcLifeTime(lifeText);
    emmc = {
      device: EMMC_DEVICE,
      life_time_a: life?.a ?? null,
      life_time_b: life?.b ?? null,
      pre_eol_info: eolText === null ? null : parseEmmcPreEol(eolText),
    };
    return emmc;
  }

  async function refreshNvme(tool: string): Promise<void> {
    try {
      const smart: NvmeSmart | null = parseNvmeSmartLog(
        await run(tool, ['smart-log', '-o', 'json', `/dev/${NVME_DEVICE}`], { timeoutMs: NVME_TIMEOUT_MS }),
      );
      nvme = smart === null ? null : { device: NVME_DEVICE, ...smart };
    } catch {
      nvme = null;
    } finally {
      nvmeEverRead = true;
    }
  }

  async function readNvme(): Promise<HealthSample['nvme']> {
    const tool = config.health.nvme;
    if (tool === null) return null;
    if (nvmeRefresh === null && now() - nvmeReadAt >= SLOW_REFRESH_MS) {
      nvmeReadAt = now();
      if (!existsSync(tool) || !existsSync(join(sys, 'class', 'nvme', NVME_DEVICE))) {
        nvme = null;
        return nvme;
      }
      const refreshing = refreshNvme(tool).finally(() => {
        nvmeRefresh = null;
      });
      nvmeRefresh = refreshing;
      // Only the first reading waits; later ones refresh behind the cached value, so a
      // slow drive never delays the 1 Hz sample.
      if (!nvmeEverRead) await refreshing;
    }
    return nvme;
  }

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

  function readJournal(at: number): HealthSample['journal'] {
    try {
      lastInfo = journal.info();
    } catch (error) {
      log(`health: journal info failed: ${error instanceof Error ? error.message : String(error)}`);
    }
    const info = lastInfo;
    if (info === null) return { records: 0, bytes: 0, backlog_records: 0, ingest_per_s: 0 };
    seqHistory.push({ at, seq: info.last_seq });
    while (seqHistory.length > 2 && (seqHistory[1]?.at ?? at) <= at - INGEST_RATE_WINDOW_MS) seqHistory.shift();
    const oldest = seqHistory[0];
    const seconds = oldest === undefined ? 0 : (at - oldest.at) / 1000;
    const ingestPerS = oldest === undefined || seconds <= 0 ? 0 : Math.max(0, (info.last_seq - oldest.seq) / seconds);
    // Records pruned by retention are no longer backlog: they are loss records.
    const forwardedOrGone = Math.max(info.forwarded_seq, info.first_seq > 0 ? info.first_seq - 1 : info.last_seq);
    return {
      records: info.records,
      bytes: info.bytes,
      backlog_records: Math.max(0, info.last_seq - forwardedOrGone),
      ingest_per_s: Math.round(ingestPerS * 10) / 10,
    };
  }

  async function sample(): Promise<HealthSample> {
    const [cpu, throttling, nvmeHealth, serviceState] = await Promise.all([measureCpu(), readThrottling(), readNvme(), service?.read()]);
    const at = now();
    const mem = parseMeminfo(readText(join(proc, 'meminfo')) ?? '');
    const tempText = readText(join(sys, 'class', 'thermal', 'thermal_zone0', 'temp'));
    const journalHealth = readJournal(at);
    const inference = latency.update(journal, lastInfo?.last_seq ?? 0, at);
    return {
      at_ms: at,
      device_id: config.device_id,
      uptime_s: parseUptime(readText(join(proc, 'uptime')) ?? '') ?? 0,
      cpu_pct: cpu === null ? null : Math.round(cpu * 10) / 10,
      load: parseLoadavg(readText(join(proc, 'loadavg')) ?? '') ?? [0, 0, 0],
      mem_total_bytes: mem?.total ?? 0,
      mem_available_bytes: mem?.available ?? 0,
      disks: readDisks(),
      temp_c: tempText === null ? null : parseMillidegrees(tempText),
      throttling,
      volt_alarm: readVoltAlarm(),
      emmc: readEmmc(),
      nvme: nvmeHealth,
      journal: journalHealth,
      uplink: uplinkSummary(uplinkState()),
      agent_version: agentVersion,
      model_version: config.model_version === '' ? null : config.model_version,
      inference,
      ...(serviceState === undefined ? {} : { service: serviceState }),
    };
  }

  /** Samples every `intervalMs` (aligned to the clock, never overlapping) until stopped. */
  function loop(intervalMs: number, onSample: (s: HealthSample) => void): () => void {
    let stopped = false;
    let timer: NodeJS.Timeout | undefined;
    const tick = (): void => {
      sample()
        .then((s) => {
          if (!stopped) onSample(s);
        })
        .catch((error: unknown) => {
          log(`health: sample failed: ${error instanceof Error ? error.message : String(error)}`);
        })
        .finally(() => {
          if (stopped) return;
          const wait = intervalMs - (Date.now() % intervalMs);
          timer = setTimeout(tick, wait);
          timer.unref();
        });
    };
    tick();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }

  let recorder: { writer: HealthHistoryWriter; stop: () => void; flush: () => void } | null = null;
  if (options.record === true) recorder = startRecording();

  function startRecording(): { writer: HealthHistoryWriter; stop: () => void; flush: () => void } {
    const writer = openHealthHistoryWriter(historyPath);
    const minutes = createMinuteAccumulator();
    const conditions = initialConditionState();
    const safely = (what: string, fn: () => void): void => {
      try {
        fn();
      } catch (error) {
        log(`health: could not ${what}: ${error instanceof Error ? error.message : String(error)}`);
      }
    };
    const startedAt = now();
    safely('record the agent start', () => {
      writer.addEvent({ at_ms: startedAt, kind: 'agent_start', detail: `fieldkit-agent ${agentVersion} started` });
      writer.prune(startedAt);
    });
    const stop = loop(config.health.interval_ms, (s) => {
      const finished: HealthMinute | null = minutes.add(s);
      if (finished !== null) {
        safely('write a history minute', () => {
          writer.writeMinute(finished);
          writer.prune(s.at_ms);
        });
      }
      const events: HealthEvent[] = detectHealthEvents(conditions, s);
      for (const event of events) safely('record a health event', () => { writer.addEvent(event); });
    });
    const flush = (): void => {
      const partial = minutes.current();
      if (partial !== null) safely('write the last history minute', () => { writer.writeMinute(partial); });
    };
    return { writer, stop, flush };
  }

  return {
    sample,
    watch: loop,
    history(sinceMs) {
      return readHealthHistory(historyPath, sinceMs);
    },
    close() {
      if (recorder === null) return;
      recorder.stop();
      recorder.flush();
      recorder.writer.close();
      recorder = null;
    },
  };
}
