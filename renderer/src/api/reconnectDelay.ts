/**
 * Backoff for reconnecting to the web host. It runs on the same laptop, so retries start
 * fast (a restart takes a second or two) and cap low enough that the technician never
 * waits long after it is back. Jitter keeps several windows from reconnecting in lockstep.
 */
const firstDelayMs = 500;
const maxDelayMs = 10_000;

/** Delay before reconnect attempt `attempt` (1-based), with ±20 % jitter. */
export function reconnectDelayMs(attempt: number, random: () => number = Math.random): number {
  const base = Math.min(maxDelayMs, firstDelayMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(base * (0.8 + 0.4 * random()));
}
