/**
 * What counts as our renderer, and what it may load and run. main.ts applies these to the
 * window (navigation guard, request filter, CSP header) and the IPC binding uses the same
 * definition of "our page" for its sender check. Plain Node, so it is tested without
 * Electron.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * True when `candidate` is the page the app loaded as `rendererUrl`: for the bundled
 * renderer (file://) the very same index file, for the Vite dev server any page of its
 * origin. Query and hash are ignored (the UI may route with them).
 */
export function isOwnRendererUrl(candidate: string, rendererUrl: string): boolean {
  const url = parseUrl(candidate);
  const own = parseUrl(rendererUrl);
  if (url === null || own === null) return false;
  if (own.protocol === 'file:') {
    // Compare decoded paths: Node's pathToFileURL and Chromium escape different sets of
    // characters, so the same file can arrive spelled two ways.
    const candidatePath = decodedPath(url);
    return url.protocol === 'file:' && url.host === own.host && candidatePath !== null && candidatePath === decodedPath(own);
  }
  return url.origin !== 'null' && url.origin === own.origin;
}

export type RendererSource = {
  /** The page the window loads (file:// index.html, or the dev server). */
  rendererUrl: string;
  /** The folder holding the bundled renderer; the only files the page may read. */
  rendererDir: string;
};

/**
 * Whether the renderer window may fetch `requestUrl`. No remote content: only the bundled
 * renderer's own files (not the rest of the disk: file:// pages could otherwise read any
 * file), inline data, DevTools, and in development the Vite dev server and its HMR socket.
 */
export function isAllowedRendererRequest(requestUrl: string, source: RendererSource): boolean {
  const url = parseUrl(requestUrl);
  if (url === null) return false;
  switch (url.protocol) {
    case 'data:':
    case 'blob:':
    case 'devtools:':
      return true;
    case 'file:':
      return isInsideFolder(url, source.rendererDir);
    case 'http:':
    case 'https:':
    case 'ws:':
    case 'wss:': {
      const own = parseUrl(source.rendererUrl);
      return own !== null && (own.protocol === 'http:' || own.protocol === 'https:') && url.host === own.host;
    }
    default:
      return false;
  }
}

/**
 * The Content-Security-Policy for the renderer. Strict for the bundled app: React sets
 * style props through the CSSOM (not affected), Vite emits CSS files, and React Aria's one
 * injected <style> is pre-empted by a placeholder in renderer/index.html. The dev server
 * needs inline scripts and styles and its HMR socket, and gets them only when running from
 * sources.
 */
export function contentSecurityPolicy(devServerUrl?: string): string {
  const scriptSrc = ["'self'"];
  const styleSrc = ["'self'"];
  const connectSrc = ["'self'"];
  const devServer = devServerUrl === undefined ? null : parseUrl(devServerUrl);
  if (devServer !== null) {
    // React Refresh's preamble is an inline module script; Vite injects CSS as <style>
    // elements and pushes updates over a WebSocket on the same host.
    scriptSrc.push("'unsafe-inline'");
    styleSrc.push("'unsafe-inline'");
    connectSrc.push(`${devServer.protocol === 'https:' ? 'wss:' : 'ws:'}//${devServer.host}`);
  }
  const directives: Array<[string, string[]]> = [
    ['default-src', ["'self'"]],
    ['script-src', scriptSrc],
    ['style-src', styleSrc],
    ['img-src', ["'self'", 'data:']],
    ['font-src', ["'self'"]],
    ['connect-src', connectSrc],
    ['worker-src', ["'self'"]],
    ['object-src', ["'none'"]],
    ['frame-src', ["'none'"]],
    ['base-uri', ["'none'"]],
    ['form-action', ["'none'"]],
    ['frame-ancestors', ["'none'"]],
  ];
  return directives.map(([name, values]) => `${name} ${values.join(' ')}`).join('; ');
}

function isInsideFolder(url: URL, folder: string): boolean {
  let filePath: string;
  try {
    filePath = fileURLToPath(url);
  } catch {
    return false; // a file URL with a remote host (file://server/share) or a bad escape
  }
  const relative = path.relative(path.resolve(folder), path.resolve(filePath));
  return !path.isAbsolute(relative) && relative.split(path.sep)[0] !== '..';
}

function parseUrl(text: string): URL | null {
  try {
    return new URL(text);
  } catch {
    return null;
  }
}

function decodedPath(url: URL): string | null {
  try {
    return decodeURIComponent(url.pathname);
  } catch {
    return null;
  }
}
