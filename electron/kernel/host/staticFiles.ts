/** Serves the built renderer: only files inside its folder, with types browsers trust. */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { extname, join, normalize, sep } from 'node:path';

const contentTypes: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.map': 'application/json',
};

/** Sends `urlPath` from `root`, or a 404; index.html for `/`. Never escapes `root`. */
export async function serveStatic(root: string, urlPath: string, res: ServerResponse): Promise<void> {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    sendText(res, 400, 'Bad path.');
    return;
  }
  const relativePath = normalize(decoded === '/' ? '/index.html' : decoded).replace(/^([/\\])+/, '');
  const file = join(root, relativePath);
  if (relativePath.startsWith('..') || !(file + sep).startsWith(root.endsWith(sep) ? root : root + sep) || decoded.includes('\0')) {
    sendText(res, 404, 'Not found.');
    return;
  }
  const info = await stat(file).catch(() => null);
  if (!info?.isFile()) {
    if (relativePath === 'index.html') {
      sendText(res, 503, 'The fieldkit UI is not built. Run `npm run build` (or `npm run serve`, which builds it) and reload.');
      return;
    }
    sendText(res, 404, 'Not found.');
    return;
  }
  res.writeHead(200, {
    'Content-Type': contentTypes[extname(file)] ?? 'application/octet-stream',
    'Content-Length': info.size,
    // Hashed asset names can be cached; the page itself must always be fresh.
    'Cache-Control': relativePath === 'index.html' ? 'no-store' : 'public, max-age=31536000, immutable',
  });
  createReadStream(file).pipe(res);
}

export function sendText(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8' });
  res.end(text + '\n');
}
