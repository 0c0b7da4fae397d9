import { pathToFileURL } from 'node:url';
import { describe, expect, it, vi } from 'vitest';
import { ipcChannels, type EventPayloadOf, type FieldkitBridge, type MethodName } from '../../../shared/api.ts';
import type { JobEvent } from '../../../shared/jobs.ts';
import { createEventBus } from '../../../electron/kernel/api/eventBus.ts';
import { bindIpcMain } from '../../../electron/kernel/ipc/ipcMainBinding.ts';
import { createPreloadBridge, type IpcRendererLike, type IpcRendererListener } from '../../../electron/kernel/ipc/preloadBridge.ts';
import { createFakeIpcMain, createFakeIpcRenderer, createFakeWebContents } from './fakeElectronIpc.ts';
import { createStubHandlers, sampleJob } from './stubHandlers.ts';

/** An ipcRenderer that records calls and answers invokes with `answer`. */
function recordingIpcRenderer(answer: (channel: string, args: unknown[]) => Promise<unknown> = () => Promise.resolve({ ok: true, value: {} })) {
  const listeners = new Map<string, Set<IpcRendererListener>>();
  const invokes: Array<{ channel: string; args: unknown[] }> = [];
  const ipcRenderer: IpcRendererLike = {
    invoke(channel, ...args) {
      invokes.push({ channel, args });
      return answer(channel, args);
    },
    on(channel, listener) {
      const set = listeners.get(channel) ?? new Set();
      set.add(listener);
      listeners.set(channel, set);
    },
    removeListener(channel, listener) {
      listeners.get(channel)?.delete(listener);
    },
  };
  function emit(channel: string, payload: unknown): void {
    for (const listener of listeners.get(channel) ?? []) listener({ sender: ipcRenderer }, payload);
  }
  const listenerCount = () => [...listeners.values()].reduce((sum, set) => sum + set.size, 0);
  return { ipcRenderer, invokes, emit, listenerCount };
}

/** What page scripts can do regardless of the TypeScript types. */
type UntypedBridge = {
  invoke(method: unknown, params?: unknown): Promise<unknown>;
  subscribe(event: unknown, listener: unknown): () => void;
};
function untyped(bridge: FieldkitBridge): UntypedBridge {
  // TypeScript's method parameter bivariance accepts this; page scripts need no permission.
  return bridge;
}

const progressEvent: JobEvent = {
  type: 'progress',
  jobId: sampleJob.id,
  at: 1_700_000_000_500,
  progress: { phase: 'reading', bytesDone: 2048, bytesTotal: 4096, unit: 'bytes', rateBytesPerSec: 1024, etaSeconds: 2 },
};

describe('createPreloadBridge: shape', () => {
  it('exposes exactly carrier, invoke and subscribe, frozen, and nothing of Electron', () => {
    const { ipcRenderer } = recordingIpcRenderer();
    const bridge = createPreloadBridge(ipcRenderer);
    expect(Object.keys(bridge).sort()).toEqual(['carrier', 'invoke', 'subscribe']);
    expect(bridge.carrier).toBe('electron');
    expect(Object.isFrozen(bridge)).toBe(true);
    expect(Object.values(bridge)).not.toContain(ipcRenderer);
    expect(() => {
      (bridge as { carrier: string }).carrier = 'web';
    }).toThrow(TypeError);
  });
});

describe('createPreloadBridge: invoke', () => {
  it('sends contract methods to main on the one invoke channel and returns its Result', async () => {
    const answer = { ok: true, value: { jobs: [] } };
    const fake = recordingIpcRenderer(() => Promise.resolve(answer));
    const bridge = createPreloadBridge(fake.ipcRenderer);
    expect(await bridge.invoke('jobs.list', { limit: 5 })).toEqual(answer);
    expect(fake.invokes).toEqual([{ channel: ipcChannels.invoke, args: ['jobs.list', { limit: 5 }] }]);
  });

  it.each([['shell.exec'], ['toString'], ['__proto__'], [42], [undefined]])('answers %s with METHOD_NOT_FOUND without asking main', async (method) => {
    const fake = recordingIpcRenderer();
    const result = await untyped(createPreloadBridge(fake.ipcRenderer)).invoke(method, {});
    expect(result).toMatchObject({ ok: false, error: { code: 'METHOD_NOT_FOUND', field: 'method' } });
    expect(fake.invokes).toEqual([]);
  });

  it('turns a failed IPC round trip into UNAVAILABLE, never a rejection', async () => {
    const fake = recordingIpcRenderer(() => Promise.reject(new Error("No handler registered for 'fieldkit:invoke'")));
    const result = await createPreloadBridge(fake.ipcRenderer).invoke('app.info', {});
    expect(result).toMatchObject({ ok: false, error: { code: 'UNAVAILABLE' } });
  });

  it('does not pass on an answer that is not a Result', async () => {
    const fake = recordingIpcRenderer(() => Promise.resolve('surprise'));
    expect(await createPreloadBridge(fake.ipcRenderer).invoke('app.info', {})).toMatchObject({ ok: false, error: { code: 'INTERNAL' } });
  });
});

describe('createPreloadBridge: subscribe', () => {
  it('delivers only the payload (never the IPC event) until unsubscribed', () => {
    const fake = recordingIpcRenderer();
    const bridge = createPreloadBridge(fake.ipcRenderer);
    const received: unknown[][] = [];
    const unsubscribe = bridge.subscribe('job.event', (...args: unknown[]) => {
      received.push(args);
    });
    fake.emit(ipcChannels.event('job.event'), progressEvent);
    fake.emit(ipcChannels.event('drives.changed'), { drives: [] });
    unsubscribe();
    unsubscribe();
    fake.emit(ipcChannels.event('job.event'), progressEvent);
    expect(received).toEqual([[progressEvent]]);
    expect(fake.listenerCount()).toBe(0);
  });

  it.each([['shell.output'], ['fieldkit:invoke'], [42]])('refuses the event name %s', (event) => {
    const fake = recordingIpcRenderer();
    const bridge = untyped(createPreloadBridge(fake.ipcRenderer));
    expect(() => bridge.subscribe(event, () => undefined)).toThrow(/There is no API event/);
    expect(fake.listenerCount()).toBe(0);
  });

  it('refuses a listener that is not a function', () => {
    const fake = recordingIpcRenderer();
    expect(() => untyped(createPreloadBridge(fake.ipcRenderer)).subscribe('job.event', 'alert(1)')).toThrow(TypeError);
    expect(fake.listenerCount()).toBe(0);
  });
});

describe('preload bridge and main binding together', () => {
  const rendererUrl = pathToFileURL('/opt/fieldkit/dist/renderer/index.html').href;

  function connect() {
    const ipcMain = createFakeIpcMain();
    const window = createFakeWebContents(3, rendererUrl);
    const stubs = createStubHandlers();
    const events = createEventBus();
    const unbind = bindIpcMain({ ipcMain, webContents: window, rendererUrl, handlers: stubs.handlers, events });
    return { ipcMain, window, stubs, events, unbind };
  }

  it('carries a call from the page to the handlers and the Result back', async () => {
    const { ipcMain, window, stubs, unbind } = connect();
    const bridge = createPreloadBridge(createFakeIpcRenderer(ipcMain, window));
    const result = await bridge.invoke('jobs.get', { jobId: sampleJob.id });
    expect(result).toEqual({ ok: true, value: { job: sampleJob } });
    expect(stubs.calls).toEqual([{ method: 'jobs.get' satisfies MethodName, params: { jobId: sampleJob.id } }]);
    expect(await bridge.invoke('jobs.get', { jobId: 'nope' })).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST', field: 'jobId' } });
    unbind();
    expect(await bridge.invoke('app.info', {})).toMatchObject({ ok: false, error: { code: 'UNAVAILABLE' } });
  });

  it('carries events from the bus to subscribers in the page', () => {
    const { ipcMain, window, events, unbind } = connect();
    const bridge = createPreloadBridge(createFakeIpcRenderer(ipcMain, window));
    const listener = vi.fn<(payload: EventPayloadOf<'job.event'>) => void>();
    bridge.subscribe('job.event', listener);
    events.emit('job.event', progressEvent);
    expect(listener).toHaveBeenCalledExactlyOnceWith(progressEvent);
    unbind();
  });

  it('refuses a page inside an iframe of our window', async () => {
    const { ipcMain, window, stubs, unbind } = connect();
    const iframe = { url: rendererUrl, parent: window.mainFrame };
    const bridge = createPreloadBridge(createFakeIpcRenderer(ipcMain, window, iframe));
    expect(await bridge.invoke('app.info', {})).toMatchObject({ ok: false, error: { code: 'UNAUTHORIZED' } });
    expect(stubs.calls).toEqual([]);
    unbind();
  });
});
