/**
 * Parsers for the text the Linux kernel and the Pi's tools print. Pure: they take the
 * file's text and return numbers or null, so a format we do not recognise reads as
 * "unknown" rather than as a healthy zero.
 */

/** The aggregate `cpu` line of /proc/stat, in clock ticks. */
export type CpuTimes = { busy: number; total: number };

export function parseProcStatCpu(text: string): CpuTimes | null {
  const line = /^cpu\s+([\d\s]+)$/m.exec(text)?.[1];
  if (line === undefined) return null;
  const fields = line.trim().split(/\s+/).map(Number);
  if (fields.length < 4 || fields.some((n) => !Number.isFinite(n))) return null;
  // user nice system idle iowait irq softirq steal guest guest_nice. guest and guest_nice
  // are already counted in user and nice, so the total stops at steal.
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = fields;
  const total = user + nice + system + idle + iowait + irq + softirq + steal;
  return { busy: total - idle - iowait, total };
}

/** CPU busy % between two readings; null when no time passed (or the counters went back, as after a reboot). */
export function cpuPercent(previous: CpuTimes, current: CpuTimes): number | null {
  const total = current.total - previous.total;
  const busy = current.busy - previous.busy;
  if (total <= 0 || busy < 0) return null;
  return Math.min(100, Math.max(0, (busy / total) * 100));
}

export function parseLoadavg(text: string): [number, number, number] | null {
  const m = /^\s*(\d+\.\d+)\s+(\d+\.\d+)\s+(\d+\.\d+)\s/.exec(text);
  if (m?.[1] === undefined || m[2] === undefined || m[3] === undefined) return null;
  return [Number(m[1]), Number(m[2]), Number(m[3])];
}

/** MemTotal and MemAvailable in bytes (the file says kB and means KiB). */
export function parseMeminfo(text: string): { total: number; available: number } | null {
  const kib = (key: string): number | null => {
    const m = new RegExp(`^${key}:\\s+(\\d+) kB$`, 'm').exec(text);
    return m?.[1] === undefined ? null : Number(m[1]) * 1024;
  };
  const total = kib('MemTotal');
  const available = kib('MemAvailable');
  if (total === null || available === null) return null;
  return { total, available };
}

export function parseUptime(text: string): number | null {
  const first = /^\s*(\d+(?:\.\d+)?)\s/.exec(text)?.[1];
  return first === undefined ? null : Number(first);
}

/** thermal_zone*\/temp is millidegrees Celsius. */
export function parseMillidegrees(text: string): number | null {
  const trimmed = text.trim();
  if (!/^-?\d+$/.test(trimmed)) return null;
  return Number(trimmed) / 1000;
}

/** A sysfs boolean such as hwmon's in0_lcrit_alarm ("0" or "1"). */
export function parseSysfsFlag(text: string): boolean | null {
  const trimmed = text.trim();
  if (trimmed === '0') return false;
  if (trimmed === '1') return true;
  return null;
}

/** eMMC `life_time`: two hex bytes, DEVICE_LIFE_TIME_EST_TYP_A and _B ("0x01 0x02"). */
export function parseEmmcLifeTime(text: string): { a: number; b: number } | null {
  const m = /^\s*0x([0-9a-fA-F]{1,2})\s+0x([0-9a-fA-F]{1,2})\s*$/.exec(text);
  if (m?.[1] === undefined || m[2] === undefined) return null;
  return { a: Number.parseInt(m[1], 16), b: Number.parseInt(m[2], 16) };
}

/** eMMC `pre_eol_info`: one hex byte ("0x01" normal, "0x02" warning, "0x03" urgent). */
export function parseEmmcPreEol(text: string): number | null {
  const m = /^\s*0x([0-9a-fA-F]{1,2})\s*$/.exec(text);
  return m?.[1] === undefined ? null : Number.parseInt(m[1], 16);
}

export type NvmeSmart = {
  critical_warning: number;
  percentage_used: number;
  temperature_c: number | null;
  media_errors: number;
};

function numberField(value: unknown): number | null {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  // nvme-cli prints 128-bit counters as strings once they outgrow a double; newer
  // versions wrap some fields as {"value": n}.
  if (typeof value === 'string' && /^\d+$/.test(value)) return Number(value);
  if (typeof value === 'object' && value !== null && 'value' in value) return numberField(value.value);
  return null;
}

/**
 * `nvme smart-log -o json` as nvme-cli prints it: the temperature is Kelvin, and the
 * wear field is `percent_used` (some versions say `percentage_used`).
 */
export function parseNvmeSmartLog(text: string): NvmeSmart | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof parsed !== 'object' || parsed === null) return null;
  const log = parsed as Record<string, unknown>;
  const criticalWarning = numberField(log.critical_warning);
  const percentageUsed = numberField(log.percent_used ?? log.percentage_used);
  const mediaErrors = numberField(log.media_errors);
  if (criticalWarning === null || percentageUsed === null || mediaErrors === null) return null;
  const kelvin = numberField(log.temperature);
  return {
    critical_warning: criticalWarning,
    percentage_used: percentageUsed,
    // 0 K means the drive reports no sensor.
    temperature_c: kelvin === null || kelvin <= 0 ? null : Math.round((kelvin - 273.15) * 10) / 10,
    media_errors: mediaErrors,
  };
}

/** Nearest-rank percentile of values sorted ascending; null for none. */
export function percentile(sortedAscending: readonly number[], p: number): number | null {
  if (sortedAscending.length === 0) return null;
  const rank = Math.ceil((p / 100) * sortedAscending.length);
  return sortedAscending[Math.min(sortedAscending.length, Math.max(1, rank)) - 1] ?? null;
}

/** What `systemctl show <unit> -p …` says of the agent's unit. */
export type UnitState = {
  /** loaded, not-found, masked… ('error': systemctl itself failed; subState then holds why). */
  loadState: string;
  activeState: string;
  subState: string;
  result: string;
  restarts: number | null;
  /** null when no main process runs (MainPID=0). */
  mainPid: number | null;
  /** When the main process started, CLOCK_MONOTONIC µs; null when it never did. */
  startMonotonicUs: number | null;
};

/** `Key=value` lines of `systemctl show`; null without a LoadState (not systemctl's output). */
export function parseSystemctlShow(text: string): UnitState | null {
  const values = new Map<string, string>();
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) values.set(line.slice(0, eq).trim(), line.slice(eq + 1).trim());
  }
  const loadState = values.get('LoadState');
  if (loadState === undefined || loadState === '') return null;
  const int = (key: string): number | null => {
    const v = values.get(key);
    return v !== undefined && /^\d+$/.test(v) ? Number(v) : null;
  };
  const pid = int('MainPID');
  const start = int('ExecMainStartTimestampMonotonic');
  return {
    loadState,
    activeState: values.get('ActiveState') ?? 'unknown',
    subState: values.get('SubState') ?? '',
    result: values.get('Result') ?? '',
    restarts: int('NRestarts'),
    mainPid: pid === null || pid === 0 ? null : pid,
    startMonotonicUs: start === null || start === 0 ? null : start,
  };
}
