/**
 * The web host: the built renderer and the app API over a WebSocket, on 127.0.0.1 only.
 * The API needs the random token printed with the URL; a browser page from any other
 * origin is refused even with it, and so is a request with a foreign Host header (DNS
 * rebinding).
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { ClientMessageSchema, webSocketPath, type EventName, type ServerMessage } from '../../../shared/api.ts';
import { appError, badRequestFromZod } from '../../../shared/errors.ts';
import { dispatch, type ApiHandlers } from '../api/dispatch.ts';
import type { EventBus } from '../api/eventBus.ts';
import { sendText, serveStatic } from './staticFiles.ts';

export type WebHost = { url: string; port: number; token: string; close(): Promise<void> };

export type WebHostOptions = {
  handlers: ApiHandlers;
  events: EventBus;
  staticDir: string;
  /** 0 picks a free port. */
  port?: number;
  token?: string;
};

/** Close code sent when the token is wrong (the renderer tells the technician). */
export const closeUnauthorized = 4401;
const maxMessageBytes = 1024 * 1024;
/** A client this far behind is not reading; it is dropped rather than growing memory. */
const maxBufferedBytes = 16 * 1024 * 1024;
const bindAddress = '127.0.0.1';

export async function startWebHost(options: WebHostOptions): Promise<WebHost> {
  const token = options.token ?? randomBytes(24).toString('base64url');
  const tokenBytes = Buffer.from(token);
  let port = options.port ?? 0;
  const allowedHosts = () => new Set([`${bindAddress}:${port}`, `localhost:${port}`]);
  const allowedOrigins = () => new Set([`http://${bindAddress}:${port}`, `http://localhost:${port}`]);

  const server = createServer((req, res) => {
    if (!allowedHosts().has(req.headers.host ?? '')) {
      sendText(res, 421, 'Wrong Host header: open the URL that `fieldkit serve` printed.');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      sendText(res, 405, 'Only GET is served here; the API is on the WebSocket.');
      return;
    }
    res.setHeader(
      'Content-Security-Policy',
      `default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self' ws://${bindAddress}:${port} ws://localhost:${port}; frame-ancestors 'none'; base-uri 'none'; form-action 'none'; object-src 'none'`,
    );
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
    const url = new URL(req.url ?? '/', `http://${bindAddress}`);
    if (url.pathname === webSocketPath) {
      // A browser cannot see why an upgrade failed; a plain GET here tells it whether
      // its token is the problem (401) or it should simply connect again (426).
      if (!tokenMatches(url)) sendText(res, 401, 'Access token refused: open the URL that `fieldkit serve` printed.');
      else sendText(res, 426, 'Connect with a WebSocket.');
      return;
    }
    void serveStatic(options.staticDir, url.pathname, res);
  });

  const wss = new WebSocketServer({ noServer: true, maxPayload: maxMessageBytes });

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const refusal = checkUpgrade(req);
    if (refusal) {
      socket.end(`HTTP/1.1 ${refusal}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      serveClient(ws);
    });
  });

  function checkUpgrade(req: IncomingMessage): string | null {
    const url = new URL(req.url ?? '/', `http://${bindAddress}`);
    if (url.pathname !== webSocketPath) return '404 Not Found';
    if (!allowedHosts().has(req.headers.host ?? '')) return '421 Misdirected Request';
    // Browsers always send Origin; a page from anywhere else must not drive this laptop.
    const origin = req.headers.origin;
    if (origin !== undefined && !allowedOrigins().has(origin)) return '403 Forbidden';
    if (!tokenMatches(url)) return '401 Unauthorized';
    return null;
  }

  function tokenMatches(url: URL): boolean {
    const given = Buffer.from(url.searchParams.get('token') ?? '');
    return given.length === tokenBytes.length && timingSafeEqual(given, tokenBytes);
  }

  function send(ws: WebSocket, message: ServerMessage): void {
    if (ws.readyState !== ws.OPEN) return;
    if (ws.bufferedAmount > maxBufferedBytes) {
      ws.close(1013, 'client is not reading its messages');
      return;
    }
    ws.send(JSON.stringify(message));
  }

  function serveClient(ws: WebSocket): void {
    const unsubscribe = options.events.subscribe((name: EventName, payload) => {
      send(ws, { type: 'event', name, payload });
    });
    ws.on('close', unsubscribe);
    ws.on('error', unsubscribe);
    ws.on('message', (data, isBinary) => {
      void answer(ws, isBinary ? null : rawDataText(data));
    });
  }

  async function answer(ws: WebSocket, text: string | null): Promise<void> {
    let json: unknown;
    try {
      json = text === null ? undefined : JSON.parse(text);
    } catch {
      send(ws, {
        type: 'result',
        id: null,
        result: { ok: false, error: appError('BAD_REQUEST', 'The message is not JSON.', 'Send {"id": <number>, "method": "<name>", "params": {...}} as a text frame.') },
      });
      return;
    }
    const message = ClientMessageSchema.safeParse(json);
    if (!message.success) {
      const id = typeof json === 'object' && json !== null && 'id' in json && typeof json.id === 'number' ? json.id : null;
      send(ws, { type: 'result', id, result: { ok: false, error: badRequestFromZod('Invalid message', message.error) } });
      return;
    }
    const result = await dispatch(options.handlers, message.data.method, message.data.params);
    send(ws, { type: 'result', id: message.data.id, result });
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, bindAddress, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('web host has no TCP address');
  port = address.port;

  return {
    url: `http://${bindAddress}:${port}/#token=${token}`,
    port,
    token,
    close: () =>
      new Promise<void>((resolve) => {
        for (const client of wss.clients) client.close(1001, 'fieldkit is shutting down');
        wss.close();
        server.close(() => {
          resolve();
        });
        server.closeAllConnections();
      }),
  };
}

function rawDataText(data: Buffer | ArrayBuffer | Buffer[]): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return (Buffer.isBuffer(data) ? data : Buffer.from(data)).toString('utf8');
}
