/**
 * CPU use in percent, from /proc/stat deltas between one sample and the next. The first
 * sample has no previous reading to compare with, so it measures over a short window.
 */
import { join } from 'node:path';
import { cpuPercent, parseProcStatCpu, type CpuTimes } from './procSysParsers.ts';
import { readText } from './sysText.ts';

/** The first sample has no previous /proc/stat to compare with: it measures over this window. */
const FIRST_CPU_WINDOW_MS = 100;

export type CpuMeter = { measure: () => Promise<number | null> };

export function createCpuMeter(procRoot: string): CpuMeter {
  let previousCpu: CpuTimes | null = null;
  let lastCpuPct: number | null = null;

  function readCpu(): CpuTimes | null {
    const text = readText(join(procRoot, 'stat'));
    return text === null ? null : parseProcStatCpu(text);
  }

  async function measure(): Promise<number | null> {
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

  return { measure };
}
