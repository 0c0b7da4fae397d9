/**
 * The Raspberry Pi firmware's throttling word (`vcgencmd get_throttled`), decoded. Pure,
 * so the agent, the laptop services and the UI read the same bits the same way.
 *
 * Bits 0-3 say what is happening now, bits 16-19 what has happened since boot:
 *   0 / 16  under-voltage detected / has occurred
 *   1 / 17  ARM frequency capped / has been capped
 *   2 / 18  currently throttled / has been throttled
 *   3 / 19  soft temperature limit active / has been reached
 */
import type { ThrottleFlags, Throttling } from './health.ts';

const NOW_SHIFT = 0;
const SINCE_BOOT_SHIFT = 16;

function flagsAt(raw: number, shift: number): ThrottleFlags {
  const bit = (n: number): boolean => ((raw >>> (shift + n)) & 1) === 1;
  return { under_voltage: bit(0), arm_freq_capped: bit(1), throttled: bit(2), soft_temp_limit: bit(3) };
}

/** Decodes the firmware's throttling word into now and since-boot flags. */
export function decodeThrottled(raw: number): Throttling {
  if (!Number.isInteger(raw) || raw < 0 || raw > 0xffff_ffff) {
    throw new RangeError(`throttling word must be a 32-bit unsigned integer, got ${String(raw)}`);
  }
  return { raw, now: flagsAt(raw, NOW_SHIFT), since_boot: flagsAt(raw, SINCE_BOOT_SHIFT) };
}

/**
 * Reads the output of `vcgencmd get_throttled` (`throttled=0x50005`). Returns null for
 * anything else (an error message from the firmware, an empty line), so a caller can
 * report "unknown" rather than "healthy".
 */
export function parseGetThrottled(output: string): number | null {
  const match = /^\s*throttled=0x([0-9a-fA-F]{1,8})\s*$/.exec(output);
  if (match?.[1] === undefined) return null;
  return Number.parseInt(match[1], 16);
}

/** True when any of the four conditions is active now. */
export function isThrottledNow(t: Throttling): boolean {
  return t.now.under_voltage || t.now.arm_freq_capped || t.now.throttled || t.now.soft_temp_limit;
}

/** Short labels for the conditions that are set, for a UI cell or a log line ("under-voltage now, throttled since boot"). */
export function describeThrottling(t: Throttling): string[] {
  const names: [keyof ThrottleFlags, string][] = [
    ['under_voltage', 'under-voltage'],
    ['arm_freq_capped', 'ARM frequency capped'],
    ['throttled', 'throttled'],
    ['soft_temp_limit', 'soft temperature limit'],
  ];
  const out: string[] = [];
  for (const [key, label] of names) {
    if (t.now[key]) out.push(`${label} now`);
    else if (t.since_boot[key]) out.push(`${label} since boot`);
  }
  return out;
}
