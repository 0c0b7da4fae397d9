import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync, mkdirSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { methodNames, methods } from '../../shared/api.ts';
import { createAppServices, type AppServices } from '../../electron/app/appServices.ts';
import { startWebHost, type WebHost } from '../../electron/kernel/host/webHost.ts';
import { makeTempDir } from '../support/tempDir.ts';
import { connect } from '../support/wsClient.ts';

describe('web host', () => {
  const dir = makeTempDir();
  const staticDir = join(dir.path, 'renderer');
  let services: AppServices;
  let host: WebHost;
  let wsUrl: string;

  beforeAll(async () => {
    mkdirSync(staticDir);
    writeFileSync(join(staticDir, 'index.html'), '<!doctype html><title>fieldkit</title>');
    services = await createAppServices({ dataDir: join(dir.path, 'data'), version: '0.0.0-test' });
    host = await startWebHost({ handlers: services.handlers, events: services.events, staticDir });
    wsUrl = `ws://127.0.0.1:${host.port}/api?token=${host.token}`;
  });

  afterAll(async () => {
    await host.close();
    await services.close();
    dir.remove();
  });

  it('listens on 127.0.0.1 and prints a URL carrying the token', () => {
    expect(host.url).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:${host.port}/#token=[A-Za-z0-9_-]{32}$`));
  });

  it('serves the renderer with a strict CSP, and nothing outside it', async () => {
    const page = await fetch(`http://127.0.0.1:${host.port}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(await page.text()).toContain('<title>fieldkit</title>');
    const escape = await fetch(`http://127.0.0.1:${host.port}/..%2f..%2fdata%2ffieldkit.db`);
    expect(escape.status).toBe(404);
  });

  it('refuses a connection without the token, or with a wrong one', async () => {
    await expect(connect(`ws://127.0.0.1:${host.port}/api`)).rejects.toThrow('HTTP 401');
    await expect(connect(`ws://127.0.0.1:${host.port}/api?token=${'x'.repeat(host.token.length)}`)).rejects.toThrow('HTTP 401');
  });

  it('tells a browser over plain HTTP whether its token is the problem', async () => {
    expect((await fetch(`http://127.0.0.1:${host.port}/api?token=wrong`)).status).toBe(401);
    expect((await fetch(`http://127.0.0.1:${host.port}/api?token=${host.token}`)).status).toBe(426);
  });

  it('refuses a page from another origin even with the token', async () => {
    await expect(connect(wsUrl, { Origin: 'http://evil.example' })).rejects.toThrow('HTTP 403');
    const mine = await connect(wsUrl, { Origin: `http://127.0.0.1:${host.port}` });
    mine.close();
  });

  it('refuses a foreign Host header (DNS rebinding)', async () => {
    // fetch() may not set Host; a raw request can, as a rebinding page's browser would.
    const status = await new Promise<number | undefined>((resolve, reject) => {
      request({ host: '127.0.0.1', port: host.port, path: '/', headers: { Host: `rebind.example:${host.port}` } }, (res) => {
        res.resume();
        resolve(res.statusCode);
      })
        .on('error', reject)
        .end();
    });
    expect(status).toBe(421);
  });

  it('answers malformed messages with BAD_REQUEST and keeps serving', async () => {
    const client = await connect(wsUrl);
    const notJson = await client.sendRaw('{nope');
    expect(notJson).toMatchObject({ type: 'result', result: { ok: false, error: { code: 'BAD_REQUEST' } } });
    const noMethod = await client.sendRaw(JSON.stringify({ id: 'x' }));
    expect(noMethod).toMatchObject({ result: { ok: false, error: { code: 'BAD_REQUEST', field: 'id' } } });
    const badField = await client.call('drives.list', { imageSizeBytes: -1 });
    expect(badField).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST', field: 'imageSizeBytes' } });
    const unknown = await client.call('drives.erase', {});
    expect(unknown).toMatchObject({ ok: false, error: { code: 'METHOD_NOT_FOUND' } });
    expect(await client.call('app.info', {})).toMatchObject({ ok: true, value: { name: 'fieldkit', version: '0.0.0-test' } });
    client.close();
  });

  it('carries every method of the contract', async () => {
    const client = await connect(wsUrl);
    for (const method of methodNames) {
      // An empty request reaches the method: it answers or names a missing field, but
      // is never METHOD_NOT_FOUND.
      const result = await client.call(method, {});
      if (!result.ok) expect(result.error.code, method).not.toBe('METHOD_NOT_FOUND');
      else expect(methods[method].response.safeParse(result.value).success, method).toBe(true);
    }
    client.close();
  });

  it('streams job events to connected clients', async () => {
    const client = await connect(wsUrl);
    const started = await client.call('drives.readCheck', { device: '/dev/fieldkit-absent' });
    expect(started).toMatchObject({ ok: false, error: { code: 'NOT_FOUND', field: 'device' } });
    services.events.emit('job.event', { type: 'log', jobId: 'job_abcdef', at: Date.now(), level: 'info', message: 'hello' });
    await expect.poll(() => client.events.length).toBe(1);
    expect(client.events[0]).toMatchObject({ name: 'job.event', payload: { message: 'hello' } });
    client.close();
  });
});
