/**
 * Who may use the web host: a request naming this host (127.0.0.1 or localhost at our
 * port, so a rebound DNS name is refused), from a page of our own origin, carrying the
 * access token (compared in constant time).
 */
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { webSocketPath } from '../../../shared/api.ts';

export type AccessGate = {
  /** The Host header names this host. */
  hostAllowed(host: string | undefined): boolean;
  tokenMatches(url: URL): boolean;
  /** Why a WebSocket upgrade is refused, as an HTTP status line; null lets it through. */
  refuseUpgrade(req: IncomingMessage): string | null;
};

/** `port()`: the port listened on, known only once listening (0 asks for a free one). */
export function createAccessGate(bindAddress: string, port: () => number, token: string): AccessGate {
  const tokenBytes = Buffer.from(token);
  const allowedHosts = () => new Set([`${bindAddress}:${port()}`, `localhost:${port()}`]);
  const allowedOrigins = () => new Set([`http://${bindAddress}:${port()}`, `http://localhost:${port()}`]);

  function tokenMatches(url: URL): boolean {
    const given = Buffer.from(url.searchParams.get('token') ?? '');
    return given.length === tokenBytes.length && timingSafeEqual(given, tokenBytes);
  }

  return {
    hostAllowed: (host) => allowedHosts().has(host ?? ''),
    tokenMatches,
    refuseUpgrade(req) {
      const url = new URL(req.url ?? '/', `http://${bindAddress}`);
      if (url.pathname !== webSocketPath) return '404 Not Found';
      if (!allowedHosts().has(req.headers.host ?? '')) return '421 Misdirected Request';
      // Browsers always send Origin; a page from anywhere else must not drive this laptop.
      const origin = req.headers.origin;
      if (origin !== undefined && !allowedOrigins().has(origin)) return '403 Forbidden';
      if (!tokenMatches(url)) return '401 Unauthorized';
      return null;
    },
  };
}
