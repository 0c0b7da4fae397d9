/**
 * Forwarding windows for metered links: local HH:MM ranges, such as 22:00-06:00 (wrapping
 * midnight). Pure; the uplink asks "inside now?" and "how long until one opens?".
 */

export type UplinkWindow = { from: string; to: string };

const DAY_MINUTES = 24 * 60;

function minutesOf(hhmm: string): number {
  const match = /^(\d{2}):(\d{2})$/.exec(hhmm);
  if (match?.[1] === undefined || match[2] === undefined) throw new Error(`"${hhmm}" is not a time of day as HH:MM`);
  return Number(match[1]) * 60 + Number(match[2]);
}

function localMinute(at: Date): number {
  return at.getHours() * 60 + at.getMinutes();
}

/** True when `at` (local time) falls in any window: from inclusive, to exclusive; from = to means all day. No windows: always. */
export function isInsideWindows(windows: readonly UplinkWindow[], at: Date): boolean {
  if (windows.length === 0) return true;
  const minute = localMinute(at);
  return windows.some((w) => {
    const from = minutesOf(w.from);
    const to = minutesOf(w.to);
    if (from === to) return true;
    return from < to ? minute >= from && minute < to : minute >= from || minute < to;
  });
}

/** Milliseconds until the next window opens (0 when inside one now). */
export function msUntilWindowOpens(windows: readonly UplinkWindow[], at: Date): number {
  if (isInsideWindows(windows, at)) return 0;
  const minute = localMinute(at);
  const intoMinuteMs = at.getSeconds() * 1000 + at.getMilliseconds();
  let best = Infinity;
  for (const w of windows) {
    const minutesAhead = (minutesOf(w.from) - minute + DAY_MINUTES) % DAY_MINUTES;
    best = Math.min(best, minutesAhead * 60_000 - intoMinuteMs);
  }
  return Math.max(0, best);
}
