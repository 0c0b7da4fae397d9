/**
 * The Pi's power and throttling state: `vcgencmd get_throttled` (decoded by
 * shared/throttling.ts) and the PMIC's under-voltage alarm (hwmon `rpi_volt`).
 *
 * vcgencmd is the only process spawned per sample: a missing one is skipped for good
 * (the board has none), a failing one is retried once a minute.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { HealthSample } from '../../shared/health.ts';
import { decodeThrottled, parseGetThrottled } from '../../shared/throttling.ts';
import { parseSysfsFlag } from './procSysParsers.ts';
import type { RunCommand } from './runCommand.ts';
import { readText } from './sysText.ts';

const VCGENCMD_TIMEOUT_MS = 2_000;
const VCGENCMD_RETRY_MS = 60_000;
const HWMON_RESCAN_MS = 60_000;

function errorCode(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string' ? error.code : undefined;
}

export type ThrottlingReader = { read: () => Promise<HealthSample['throttling']> };

/** Reads `vcgencmd get_throttled`; `tool` null means the config says there is none. */
export function createThrottlingReader(tool: string | null, run: RunCommand, now: () => number): ThrottlingReader {
  // 'absent' is final (the board has none); a failing one is retried slowly.
  let vcgencmdAbsent = tool === null;
  let vcgencmdRetryAt = 0;

  async function read(): Promise<HealthSample['throttling']> {
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

  return { read };
}

function findHwmon(sysRoot: string, name: string): string | null {
  const base = join(sysRoot, 'class', 'hwmon');
  try {
    for (const entry of readdirSync(base)) {
      if (readText(join(base, entry, 'name'))?.trim() === name) return join(base, entry);
    }
  } catch {
    // No hwmon class at all (not a Pi, or a container): unknown.
  }
  return null;
}

export type VoltAlarmReader = { read: () => boolean | null };

/** Reads rpi_volt's in0_lcrit_alarm: true while the supply is under voltage, null if unknown. */
export function createVoltAlarmReader(sysRoot: string, now: () => number): VoltAlarmReader {
  let hwmonDir: string | null = null;
  let hwmonScannedAt = -Infinity;

  function read(): boolean | null {
    // hwmon numbering is not stable across boots or kernels, so find rpi_volt by name;
    // a board without it is rescanned only once a minute.
    if (hwmonDir === null && now() - hwmonScannedAt >= HWMON_RESCAN_MS) {
      hwmonScannedAt = now();
      hwmonDir = findHwmon(sysRoot, 'rpi_volt');
    }
    if (hwmonDir === null) return null;
    const text = readText(join(hwmonDir, 'in0_lcrit_alarm'));
    if (text === null) hwmonDir = null;
    return text === null ? null : parseSysfsFlag(text);
  }

  return { read };
}
