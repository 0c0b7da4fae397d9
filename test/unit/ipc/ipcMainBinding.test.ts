import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ipcChannels, methodNames, methods, type MethodName } from '../../../shared/api.ts';
import { appError, FieldkitError, type Result } from '../../../shared/errors.ts';
import type { JobEvent } from '../../../shared/jobs.ts';
import { createEventBus, type EventBus } from '../../../electron/kernel/api/eventBus.ts';
import { bindIpcMain, type FrameLike } from '../../../electron/kernel/ipc/ipcMainBinding.ts';
import { createFakeIpcMain, createFakeWebContents, invokeEventFrom, type FakeIpcMain, type FakeWebContents } from './fakeElectronIpc.ts';
import { createStubHandlers, sampleJob, sampleRequests, type StubHandlers } from './stubHandlers.ts';

const rendererUrl = pathToFileURL('/opt/fieldkit/resources/app.asar/dist/renderer/index.html').href;

let ipcMain: FakeIpcMain;
let window: FakeWebContents;
let stubs: StubHandlers;
let events: EventBus;
let refusals: string[];
let unbind: () => void;

beforeEach(() => {
  ipcMain = createFakeIpcMain();
  window = createFakeWebContents(7, `${rendererUrl}#/drives`);
  stubs = createStubHandlers();
  events = createEventBus();
  refusals = [];
  unbind = bindIpcMain({ ipcMain, webContents: window, rendererUrl, handlers: stubs.handlers, events, onRefused: (reason) => refusals.push(reason) });
});

afterEach(() => {
  unbind();
});

/** Calls the API as a frame of `contents` would, through the registered handler. */
async function invokeAs(contents: { id: number }, frame: FrameLike | null, ...args: unknown[]): Promise<Result<unknown>> {
  return (await ipcMain.invokeFrom(invokeEventFrom(contents, frame), ipcChannels.invoke, ...args)) as Result<unknown>;
}

function invokeFromWindow(method: unknown, params?: unknown): Promise<Result<unknown>> {
  return invokeAs(window, window.mainFrame, method, params);
}

const progressEvent: JobEvent = {
  type: 'progress',
  jobId: sampleJob.id,
  at: 1_700_000_000_500,
  progress: { phase: 'reading', bytesDone: 2048, bytesTotal: 4096, unit: 'bytes', rateBytesPerSec: 1024, etaSeconds: 2 },
};

describe('bindIpcMain: who may call', () => {
  it('serves the main frame of our window showing our index.html', async () => {
    const result = await invokeFromWindow('app.info', {});
    expect(result.ok).toBe(true);
    expect(refusals).toEqual([]);
  });

  const ourFile = { url: rendererUrl, parent: null };
  type Call = (...args: unknown[]) => Promise<Result<unknown>>;
  it.each<[string, Call]>([
    ['a subframe of our window', (...args) => invokeAs(window, { url: rendererUrl, parent: ourFile }, ...args)],
    ['another window or webview', (...args) => invokeAs({ id: 8 }, { url: rendererUrl, parent: null }, ...args)],
    ['our window navigated to a remote page', (...args) => invokeAs(window, { url: 'https://evil.example/index.html', parent: null }, ...args)],
    ['another local file', (...args) => invokeAs(window, { url: pathToFileURL('/tmp/downloaded/index.html').href, parent: null }, ...args)],
    ['a frame that is already gone', (...args) => invokeAs(window, null, ...args)],
    ['about:blank', (...args) => invokeAs(window, { url: 'about:blank', parent: null }, ...args)],
  ])('refuses %s with UNAUTHORIZED, without calling any handler', async (_name, call) => {
    const result = await call('app.info', {});
    expect(result).toMatchObject({ ok: false, error: { code: 'UNAUTHORIZED' } });
    expect(stubs.calls).toEqual([]);
    expect(refusals).toHaveLength(1);
  });

  it('refuses calls once the window is destroyed', async () => {
    window.destroy();
    expect(await invokeFromWindow('app.info', {})).toMatchObject({ ok: false, error: { code: 'UNAUTHORIZED' } });
  });

  it('serves any page of the dev server, and nothing else, in development', async () => {
    unbind();
    const devUrl = 'http://localhost:5173/';
    const devWindow = createFakeWebContents(9, `${devUrl}#/jobs`);
    unbind = bindIpcMain({ ipcMain, webContents: devWindow, rendererUrl: devUrl, handlers: stubs.handlers, events });
    expect((await invokeAs(devWindow, devWindow.mainFrame, 'app.info', {})).ok).toBe(true);
    const otherPort = await invokeAs(devWindow, { url: 'http://localhost:5174/', parent: null }, 'app.info', {});
    expect(otherPort).toMatchObject({ ok: false, error: { code: 'UNAUTHORIZED' } });
  });
});

describe('bindIpcMain: requests', () => {
  it.each(methodNames)('reaches %s and answers with a value that matches its response schema', async (method: MethodName) => {
    const result = await invokeFromWindow(method, sampleRequests[method]);
    if (!result.ok) throw new Error(`${method} failed: ${result.error.code} ${result.error.message}`);
    expect(methods[method].response.safeParse(result.value).success).toBe(true);
    expect(stubs.calls.map((call) => call.method)).toEqual([method]);
  });

  it('answers a malformed request with BAD_REQUEST naming the field, without calling the handler', async () => {
    const wrongType = await invokeFromWindow('jobs.get', { jobId: 42 });
    expect(wrongType).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST', field: 'jobId' } });
    if (!wrongType.ok) expect(wrongType.error.message).toContain("'jobId'");
    const missing = await invokeFromWindow('drives.readCheck', { maxBytes: 10 });
    expect(missing).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST', field: 'device' } });
    const notAnObject = await invokeFromWindow('jobs.list', 'all of them');
    expect(notAnObject).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST' } });
    expect(stubs.calls).toEqual([]);
  });

  it('answers names outside the contract with METHOD_NOT_FOUND', async () => {
    expect(await invokeFromWindow('shell.exec', { command: 'rm -rf /' })).toMatchObject({ ok: false, error: { code: 'METHOD_NOT_FOUND' } });
    expect(await invokeFromWindow(42)).toMatchObject({ ok: false, error: { code: 'METHOD_NOT_FOUND' } });
    expect(await invokeFromWindow('__proto__')).toMatchObject({ ok: false, error: { code: 'METHOD_NOT_FOUND' } });
  });

  it('turns a failing handler into a Result instead of a rejected invoke', async () => {
    stubs.handlers['jobs.get'] = () => Promise.reject(new FieldkitError(appError('NOT_FOUND', 'There is no job job_abc123.', 'List jobs.', 'jobId')));
    stubs.handlers['jobs.list'] = () => Promise.reject(new Error('disk on fire'));
    expect(await invokeFromWindow('jobs.get', { jobId: sampleJob.id })).toEqual({
      ok: false,
      error: { code: 'NOT_FOUND', message: 'There is no job job_abc123.', hint: 'List jobs.', field: 'jobId' },
    });
    expect(await invokeFromWindow('jobs.list', {})).toMatchObject({ ok: false, error: { code: 'INTERNAL' } });
  });
});

describe('bindIpcMain: events', () => {
  it('forwards every contract event to the window on its own channel', () => {
    events.emit('drives.changed', { drives: [] });
    events.emit('job.event', progressEvent);
    expect(window.sent).toEqual([
      { channel: ipcChannels.event('drives.changed'), args: [{ drives: [] }] },
      { channel: ipcChannels.event('job.event'), args: [progressEvent] },
    ]);
  });

  it('sends nothing to a destroyed window or a page that is not ours', () => {
    window.mainFrame.url = 'https://evil.example/';
    events.emit('job.event', progressEvent);
    window.mainFrame.url = rendererUrl;
    window.destroy();
    events.emit('job.event', progressEvent);
    expect(window.sent).toEqual([]);
  });
});

describe('bindIpcMain: disposal', () => {
  it('removes its handler and its event subscription, once', () => {
    expect(ipcMain.handlerCount()).toBe(1);
    expect(events.listenerCount()).toBe(1);
    unbind();
    unbind();
    expect(ipcMain.handlerCount()).toBe(0);
    expect(events.listenerCount()).toBe(0);
    events.emit('drives.changed', { drives: [] });
    expect(window.sent).toEqual([]);
  });

  it('can bind a new window after the old one is unbound (macOS re-opens windows)', async () => {
    unbind();
    const next = createFakeWebContents(11, rendererUrl);
    unbind = bindIpcMain({ ipcMain, webContents: next, rendererUrl, handlers: stubs.handlers, events });
    expect((await invokeAs(next, next.mainFrame, 'app.info', {})).ok).toBe(true);
    expect(await invokeFromWindow('app.info', {})).toMatchObject({ ok: false, error: { code: 'UNAUTHORIZED' } });
  });
});
