import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { contentSecurityPolicy, isAllowedRendererRequest, isOwnRendererUrl } from '../../../electron/kernel/ipc/rendererPolicy.ts';

const rendererDir = path.resolve('/opt/field kit/resources/app.asar/dist/renderer');
const rendererUrl = pathToFileURL(path.join(rendererDir, 'index.html')).href;
const fileIn = (...parts: string[]) => pathToFileURL(path.join(rendererDir, ...parts)).href;

describe('isOwnRendererUrl', () => {
  it('accepts our index.html however it is escaped, with any hash or query', () => {
    expect(isOwnRendererUrl(rendererUrl, rendererUrl)).toBe(true);
    expect(isOwnRendererUrl(`${rendererUrl}#/jobs/job_abc123`, rendererUrl)).toBe(true);
    expect(isOwnRendererUrl(`${rendererUrl}?screen=health`, rendererUrl)).toBe(true);
    expect(isOwnRendererUrl(rendererUrl.replace('%20', ' '), rendererUrl)).toBe(true);
  });

  it('refuses other files, other hosts and other schemes', () => {
    expect(isOwnRendererUrl(fileIn('other.html'), rendererUrl)).toBe(false);
    expect(isOwnRendererUrl(pathToFileURL('/tmp/index.html').href, rendererUrl)).toBe(false);
    expect(isOwnRendererUrl(rendererUrl.replace('file:///', 'file://attacker/'), rendererUrl)).toBe(false);
    expect(isOwnRendererUrl('https://evil.example/index.html', rendererUrl)).toBe(false);
    expect(isOwnRendererUrl('about:blank', rendererUrl)).toBe(false);
    expect(isOwnRendererUrl('not a url', rendererUrl)).toBe(false);
    expect(isOwnRendererUrl(`${rendererUrl.slice(0, -'index.html'.length)}%E0%A4%A.html`, rendererUrl)).toBe(false);
  });

  it('accepts any page of the dev server origin only', () => {
    const dev = 'http://localhost:5173/';
    expect(isOwnRendererUrl('http://localhost:5173/src/main.tsx', dev)).toBe(true);
    expect(isOwnRendererUrl('http://localhost:5174/', dev)).toBe(false);
    expect(isOwnRendererUrl('http://127.0.0.1:5173/', dev)).toBe(false);
    expect(isOwnRendererUrl(rendererUrl, dev)).toBe(false);
  });
});

describe('isAllowedRendererRequest', () => {
  const bundled = { rendererUrl, rendererDir };

  it("allows the bundled renderer's own files, inline data and DevTools", () => {
    expect(isAllowedRendererRequest(rendererUrl, bundled)).toBe(true);
    expect(isAllowedRendererRequest(fileIn('assets', 'index-3f2a.js'), bundled)).toBe(true);
    expect(isAllowedRendererRequest('data:image/png;base64,iVBORw0KGgo=', bundled)).toBe(true);
    expect(isAllowedRendererRequest('devtools://devtools/bundled/devtools_app.html', bundled)).toBe(true);
  });

  it('refuses remote content and the rest of the disk', () => {
    expect(isAllowedRendererRequest('https://cdn.example/react.js', bundled)).toBe(false);
    expect(isAllowedRendererRequest('ws://127.0.0.1:8080/api', bundled)).toBe(false);
    expect(isAllowedRendererRequest(pathToFileURL('/etc/passwd').href, bundled)).toBe(false);
    expect(isAllowedRendererRequest(`${fileIn('assets')}/../../../../../../etc/passwd`, bundled)).toBe(false);
    expect(isAllowedRendererRequest(pathToFileURL(`${rendererDir}-evil/index.html`).href, bundled)).toBe(false);
    expect(isAllowedRendererRequest('file://server/share/x.js', bundled)).toBe(false);
    expect(isAllowedRendererRequest('chrome://gpu', bundled)).toBe(false);
  });

  it('allows the dev server and its HMR socket in development', () => {
    const dev = { rendererUrl: 'http://localhost:5173/', rendererDir };
    expect(isAllowedRendererRequest('http://localhost:5173/@vite/client', dev)).toBe(true);
    expect(isAllowedRendererRequest('ws://localhost:5173/?token=abc', dev)).toBe(true);
    expect(isAllowedRendererRequest('http://localhost:5174/', dev)).toBe(false);
    expect(isAllowedRendererRequest('https://registry.npmjs.org/', dev)).toBe(false);
  });
});

describe('contentSecurityPolicy', () => {
  function directives(policy: string): Map<string, string[]> {
    return new Map(policy.split('; ').map((d) => { const [name = '', ...values] = d.split(' '); return [name, values]; }));
  }

  it('allows only our own scripts, styles and connections in the bundled app', () => {
    const policy = directives(contentSecurityPolicy());
    expect(policy.get('default-src')).toEqual(["'self'"]);
    expect(policy.get('script-src')).toEqual(["'self'"]);
    expect(policy.get('style-src')).toEqual(["'self'"]);
    expect(policy.get('connect-src')).toEqual(["'self'"]);
    expect(policy.get('object-src')).toEqual(["'none'"]);
    expect(contentSecurityPolicy()).not.toContain('unsafe-eval');
  });

  it("relaxes only what Vite's dev server needs", () => {
    const policy = directives(contentSecurityPolicy('http://localhost:5173/'));
    expect(policy.get('script-src')).toEqual(["'self'", "'unsafe-inline'"]);
    expect(policy.get('style-src')).toEqual(["'self'", "'unsafe-inline'"]);
    expect(policy.get('connect-src')).toEqual(["'self'", 'ws://localhost:5173']);
    expect(contentSecurityPolicy('http://localhost:5173/')).not.toContain('unsafe-eval');
  });
});
