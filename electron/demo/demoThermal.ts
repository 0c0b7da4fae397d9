/**
 * A sysfs thermal zone for each demo agent (`<sys_root>/class/thermal/thermal_zone0/temp`,
 * millidegrees, as on a Pi), drifting a little so the charts have something to show.
 * Whoever else writes the file wins: once its content is not what the demo last wrote
 * (a technician or a test pointing it at 86 °C), the demo stops touching it.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export function thermalZoneFile(sysRoot: string): string {
  return join(sysRoot, 'class', 'thermal', 'thermal_zone0', 'temp');
}

/** Replaces the file in one step, so the agent never reads it half written. */
export function writeMillidegrees(file: string, celsius: number): string {
  const text = `${Math.round(celsius * 1000)}\n`;
  mkdirSync(dirname(file), { recursive: true });
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, text);
  renameSync(temporary, file);
  return text;
}

/** Starts the drift around `baseC`; returns the function that stops it. */
export function startDemoThermal(options: { sysRoot: string; baseC: number; everyMs?: number }): () => void {
  const file = thermalZoneFile(options.sysRoot);
  const started = Date.now();
  let written = writeMillidegrees(file, options.baseC);
  const timer = setInterval(() => {
    let now: string | null;
    try {
      now = readFileSync(file, 'utf8');
    } catch {
      now = null;
    }
    if (now !== written) {
      clearInterval(timer);
      return;
    }
    const minutes = (Date.now() - started) / 60_000;
    written = writeMillidegrees(file, options.baseC + 2.5 * Math.sin(minutes * 1.3) + (Math.random() - 0.5) * 0.6);
  }, options.everyMs ?? 2000);
  timer.unref();
  return () => {
    clearInterval(timer);
  };
}
