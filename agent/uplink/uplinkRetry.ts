/**
 * When the uplink fails: how long to wait before the next attempt, and what to tell the
 * operator the failure means. A failure never loses anything (the journal keeps every
 * record until the forwarded watermark passes it), so every failure is retried.
 */
import { appError, type AppError } from '../../shared/errors.ts';

/** Delay before retry number `failures` (1-based): exponential, "equal jitter" (half fixed, half random). */
export function backoffDelay(failures: number, initialMs: number, maxMs: number, random: () => number): number {
  const ceiling = Math.min(maxMs, initialMs * 2 ** Math.min(30, Math.max(0, failures - 1)));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

/** An AppError that says what went wrong with ClickHouse and what to check. */
export function describeUplinkError(error: unknown, url: string): AppError {
  const message = error instanceof Error ? error.message : String(error);
  const code = typeof error === 'object' && error !== null && 'code' in error ? String(error.code) : '';
  if (code === 'ECONNREFUSED' || code === 'ECONNRESET' || code === 'EHOSTUNREACH' || code === 'ENOTFOUND' || code === 'ETIMEDOUT' || /socket hang up|timeout/i.test(message)) {
    return appError('UNAVAILABLE', `ClickHouse at ${url} is not reachable (${code === '' ? message : code})`, 'The uplink retries with backoff; check the network and config.uplink.url. Nothing is lost: the journal keeps every record until it is forwarded.');
  }
  if (code === '516' || code === '192' || /authentication|password/i.test(message)) {
    return appError('PERMISSION_DENIED', `ClickHouse refused the credentials: ${message}`, 'Fix config.uplink.username / password; the uplink retries with backoff.');
  }
  // @clickhouse/client's errors carry the server's code and name apart from the text.
  const type = typeof error === 'object' && error !== null && 'type' in error && typeof error.type === 'string' ? error.type : '';
  const label = code === '' ? '' : ` (code ${code}${type === '' ? '' : ` ${type}`})`;
  return appError('UNAVAILABLE', `ClickHouse did not accept the batch${label}: ${message.trim()}`, 'The uplink retries with backoff; if this persists, check the server log and that the tables match shared/clickhouseSchema.ts.');
}
