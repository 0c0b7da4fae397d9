/**
 * Turns the 1 Hz sample stream into the compact history kept on the device: one row per
 * minute, and a line for each notable moment. Pure, so the rules are unit-tested.
 *
 * Events fire on a change (balena-supervisor's "report on change, not on every tick"):
 * a condition that stays on for an hour is one event, not 3600.
 */
import type { HealthEvent, HealthMinute, HealthSample } from '../../shared/health.ts';
import { minuteOf } from './healthHistory.ts';

export const TEMP_HIGH_C = 80;
/** Hysteresis: temperature must fall this far below the threshold before it can fire again. */
export const TEMP_HIGH_CLEAR_C = 75;
export const DISK_LOW_FRACTION = 0.1;
export const DISK_LOW_CLEAR_FRACTION = 0.12;
export const EMMC_PRE_EOL_WARNING = 2;

/** Folds samples of one minute into a HealthMinute. */
export type MinuteAccumulator = {
  /** Adds a sample; returns the finished minute when this sample starts a new one. */
  add(sample: HealthSample): HealthMinute | null;
  /** The minute so far (for a flush at shutdown), or null before any sample. */
  current(): HealthMinute | null;
};

export function createMinuteAccumulator(): MinuteAccumulator {
  let minute: number | null = null;
  let cpuSum = 0;
  let cpuCount = 0;
  let tempMax: number | null = null;
  let memMin: number | null = null;
  let diskMin: number | null = null;
  let throttledOr: number | null = null;
  let backlogMax = 0;
  let inferenceP95: number | null = null;

  function reset(at: number): void {
    minute = at;
    cpuSum = 0;
    cpuCount = 0;
    tempMax = null;
    memMin = null;
    diskMin = null;
    throttledOr = null;
    backlogMax = 0;
    inferenceP95 = null;
  }

  function snapshot(): HealthMinute | null {
    if (minute === null) return null;
    return {
      minute_ms: minute,
      cpu_pct_avg: cpuCount === 0 ? null : Math.round((cpuSum / cpuCount) * 10) / 10,
      temp_c_max: tempMax,
      mem_available_min_bytes: memMin,
      disk_free_min_bytes: diskMin,
      throttled_raw_or: throttledOr,
      backlog_records_max: backlogMax,
      inference_p95_ms: inferenceP95,
    };
  }

  return {
    add(sample) {
      const at = minuteOf(sample.at_ms);
      let finished: HealthMinute | null = null;
      if (minute !== at) {
        finished = snapshot();
        reset(at);
      }
      if (sample.cpu_pct !== null) {
        cpuSum += sample.cpu_pct;
        cpuCount += 1;
      }
      if (sample.temp_c !== null) tempMax = tempMax === null ? sample.temp_c : Math.max(tempMax, sample.temp_c);
      memMin = memMin === null ? sample.mem_available_bytes : Math.min(memMin, sample.mem_available_bytes);
      const diskFree = minDiskFree(sample);
      if (diskFree !== null) diskMin = diskMin === null ? diskFree : Math.min(diskMin, diskFree);
      // OR of the words: a minute that saw under-voltage for one second keeps the bit.
      if (sample.throttling !== null) throttledOr = ((throttledOr ?? 0) | sample.throttling.raw) >>> 0;
      backlogMax = Math.max(backlogMax, sample.journal.backlog_records);
      // The sample's p95 is already over the last minute; keep the worst one seen.
      if (sample.inference !== null) inferenceP95 = Math.max(inferenceP95 ?? 0, sample.inference.p95_ms);
      return finished;
    },
    current: snapshot,
  };
}

function minDiskFree(sample: HealthSample): number | null {
  if (sample.disks.length === 0) return null;
  return Math.min(...sample.disks.map((d) => d.free_bytes));
}

/** Which conditions were on at the previous sample, so only a rise makes an event. */
export type ConditionState = {
  underVoltageNow: boolean;
  underVoltageSinceBoot: boolean;
  voltAlarm: boolean;
  throttledNow: boolean;
  freqCappedNow: boolean;
  softTempLimitNow: boolean;
  tempHigh: boolean;
  diskLow: Set<string>;
  emmcPreEol: number | null;
  nvmeWarning: number;
};

export function initialConditionState(): ConditionState {
  return {
    underVoltageNow: false,
    underVoltageSinceBoot: false,
    voltAlarm: false,
    throttledNow: false,
    freqCappedNow: false,
    softTempLimitNow: false,
    tempHigh: false,
    diskLow: new Set(),
    emmcPreEol: null,
    nvmeWarning: 0,
  };
}

/** Events that `sample` raises given the conditions seen before it; updates `state`. */
export function detectHealthEvents(state: ConditionState, sample: HealthSample): HealthEvent[] {
  const events: HealthEvent[] = [];
  const at = sample.at_ms;
  const t = sample.throttling;

  if (t !== null) {
    const uvNow = t.now.under_voltage;
    const uvBoot = t.since_boot.under_voltage;
    if ((uvNow && !state.underVoltageNow) || (uvBoot && !state.underVoltageSinceBoot && !uvNow)) {
      events.push({
        at_ms: at,
        kind: 'under_voltage',
        detail: uvNow
          ? `under-voltage now (throttled=0x${t.raw.toString(16)}): check the power supply and cable`
          : `under-voltage occurred since boot (throttled=0x${t.raw.toString(16)}): check the power supply and cable`,
      });
    }
    state.underVoltageNow = uvNow;
    state.underVoltageSinceBoot = uvBoot;
    if (t.now.throttled && !state.throttledNow) {
      events.push({ at_ms: at, kind: 'throttled', detail: `CPU throttled (throttled=0x${t.raw.toString(16)})` });
    }
    state.throttledNow = t.now.throttled;
    if (t.now.arm_freq_capped && !state.freqCappedNow) {
      events.push({ at_ms: at, kind: 'freq_capped', detail: `ARM frequency capped (throttled=0x${t.raw.toString(16)})` });
    }
    state.freqCappedNow = t.now.arm_freq_capped;
    if (t.now.soft_temp_limit && !state.softTempLimitNow) {
      events.push({ at_ms: at, kind: 'soft_temp_limit', detail: `soft temperature limit active (throttled=0x${t.raw.toString(16)})` });
    }
    state.softTempLimitNow = t.now.soft_temp_limit;
  }

  // The PMIC's own alarm (hwmon rpi_volt) sees dips that the firmware word may miss; when
  // the word already says under-voltage, one event tells the story.
  const underVoltageKnown = state.underVoltageNow || events.some((e) => e.kind === 'under_voltage');
  if (sample.volt_alarm === true && !state.voltAlarm && !underVoltageKnown) {
    events.push({ at_ms: at, kind: 'under_voltage', detail: 'under-voltage alarm from the PMIC (hwmon rpi_volt in0_lcrit_alarm): check the power supply and cable' });
  }
  if (sample.volt_alarm !== null) state.voltAlarm = sample.volt_alarm;

  if (sample.temp_c !== null) {
    if (sample.temp_c >= TEMP_HIGH_C && !state.tempHigh) {
      events.push({ at_ms: at, kind: 'temp_high', detail: `SoC at ${sample.temp_c.toFixed(1)} °C (≥ ${TEMP_HIGH_C} °C): check cooling and airflow` });
      state.tempHigh = true;
    } else if (sample.temp_c < TEMP_HIGH_CLEAR_C) {
      state.tempHigh = false;
    }
  }

  for (const disk of sample.disks) {
    if (disk.total_bytes <= 0) continue;
    const fraction = disk.free_bytes / disk.total_bytes;
    if (fraction < DISK_LOW_FRACTION && !state.diskLow.has(disk.path)) {
      events.push({ at_ms: at, kind: 'disk_low', detail: `${disk.path}: ${(fraction * 100).toFixed(1)} % free (< ${DISK_LOW_FRACTION * 100} %)` });
      state.diskLow.add(disk.path);
    } else if (fraction >= DISK_LOW_CLEAR_FRACTION) {
      state.diskLow.delete(disk.path);
    }
  }

  const preEol = sample.emmc?.pre_eol_info ?? null;
  if (preEol !== null && preEol >= EMMC_PRE_EOL_WARNING && preEol !== state.emmcPreEol) {
    const level = preEol >= 3 ? 'urgent' : 'warning';
    events.push({ at_ms: at, kind: 'emmc_wear', detail: `eMMC ${sample.emmc?.device ?? ''} pre-EOL ${level} (pre_eol_info=0x0${preEol.toString(16)}): plan a replacement` });
  }
  if (preEol !== null) state.emmcPreEol = preEol;

  const warning = sample.nvme?.critical_warning ?? null;
  if (warning !== null && warning !== 0 && warning !== state.nvmeWarning) {
    events.push({ at_ms: at, kind: 'nvme_warning', detail: `NVMe ${sample.nvme?.device ?? ''} critical_warning=0x${warning.toString(16)}: back up and plan a replacement` });
  }
  if (warning !== null) state.nvmeWarning = warning;

  return events;
}
