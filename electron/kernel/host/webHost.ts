/**
 * The web host: the built renderer and the app API over a WebSocket, on 127.0.0.1 only.
 * The API needs the random token printed with the URL; a browser page from any other
 * origin is refused even with it, and so is a request with a foreign Host header (DNS
 * rebinding). Who may come in is accessGate.ts; what a connected client gets is
 * apiSocket.ts; this file serves the pages and composes the two.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type RequestListener } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import { webSocketPath } from '../../../shared/api.ts';
import type { ApiHandlers } from '../api/dispatch.ts';
import type { EventBus } from '../api/eventBus.ts';
import { createAccessGate, type AccessGate } from './accessGate.ts';
import { serveApiSocket } from './apiSocket.ts';
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
const bindAddress = '127.0.0.1';

export async function startWebHost(options: WebHostOptions): Promise<WebHost> {
  const token = options.token ?? randomBytes(24).toString('base64url');
  let port = options.port ?? 0;
  const gate = createAccessGate(bindAddress, () => port, token);

  const server = createServer(servePage(gate, options.staticDir, () => port));
  const wss = new WebSocketServer({ noServer: true, maxPayload: maxMessageBytes });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const refusal = gate.refuseUpgrade(req);
    if (refusal) {
      socket.end(`HTTP/1.1 ${refusal}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      serveApiSocket(ws, options);
    });
  });

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

/** The HTTP side: the renderer's files with a strict CSP, and only GET/HEAD, only to our own Host. */
function servePage(gate: AccessGate, staticDir: string, port: () => number): RequestListener {
  return (req, res) => {
    if (!gate.hostAllowed(req.headers.host)) {
      sendText(res, 421, 'Wrong Host header: open the URL that `fieldkit serve` printed.');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      sendText(res, 405, 'Only GET is served here; the API is on the WebSocket.');
      return;
    }
    res.setHeader(
      'Content-Security-Policy',
      `default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self' ws://${bindAddress}:${port()} ws://localhost:${port()}; frame-ancestors 'none'; base-uri 'none'; form-action 'none'; object-src 'none'`,
    );
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
    const url = new URL(req.url ?? '/', `http://${bindAddress}`);
    if (url.pathname === webSocketPath) {
      // A browser cannot see why an upgrade failed; a plain GET here tells it whether
      // its token is the problem (401) or it should simply connect again (426).
      if (!gate.tokenMatches(url)) sendText(res, 401, 'Access token refused: open the URL that `fieldkit serve` printed.');
      else sendText(res, 426, 'Connect with a WebSocket.');
      return;
    }
    void serveStatic(staticDir, url.pathname, res);
  };
}
