/**
 * Pis without a real-time clock boot in 1970 (or at fake-hwclock's last save) until NTP
 * answers. No event of this software can truly be older than this instant, so a time
 * before it is a clock that has not been set, not a fact about the event.
 */
export const plausibleClockSinceMs = Date.UTC(2024, 0, 1);

/** True when `ms` cannot be a real wall-clock time for this agent (an unset clock). */
export function isClockSuspect(ms: number): boolean {
  return ms < plausibleClockSinceMs;
}
