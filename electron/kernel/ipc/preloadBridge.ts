/**
 * The renderer-facing end of the Electron carrier: builds the `window.fieldkit` object the
 * preload exposes. It offers exactly the contract (invoke a method, subscribe to an event)
 * and nothing of Electron: ipcRenderer, channel names and IPC event objects stay in here.
 * Takes an ipcRenderer-like object so it runs (and is tested) in plain Node.
 */
import {
  eventNames,
  ipcChannels,
  isEventName,
  isMethodName,
  unknownMethod,
  type EventName,
  type EventPayloadOf,
  type FieldkitBridge,
  type MethodName,
  type ResponseOf,
} from '../../../shared/api.ts';
import { appError, type Result } from '../../../shared/errors.ts';

/** Electron passes its IpcRendererEvent first; the bridge never hands it on (it holds `sender`). */
export type IpcRendererListener = (event: unknown, ...args: unknown[]) => void;

/** What the bridge uses of Electron's ipcRenderer. */
export type IpcRendererLike = {
  invoke(channel: string, ...args: unknown[]): Promise<unknown>;
  on(channel: string, listener: IpcRendererListener): unknown;
  removeListener(channel: string, listener: IpcRendererListener): unknown;
};

/** Builds the frozen `FieldkitBridge` for the Electron carrier. */
export function createPreloadBridge(ipcRenderer: IpcRendererLike): FieldkitBridge {
  const bridge: FieldkitBridge = {
    carrier: 'electron',
    invoke<M extends MethodName>(method: M, params: unknown) {
      return invokeMethod(ipcRenderer, method, params) as Promise<Result<ResponseOf<M>>>;
    },
    subscribe<E extends EventName>(event: E, listener: (payload: EventPayloadOf<E>) => void) {
      return subscribeToEvent(ipcRenderer, event, listener);
    },
  };
  return Object.freeze(bridge);
}

/**
 * Sends one request to the main process. The arguments are typed `unknown` because page
 * scripts can pass anything through contextBridge; names outside the contract are
 * answered here without a round trip.
 */
async function invokeMethod(ipcRenderer: IpcRendererLike, method: unknown, params: unknown): Promise<Result<unknown>> {
  if (!isMethodName(method)) return { ok: false, error: unknownMethod(method) };
  let answer: unknown;
  try {
    answer = await ipcRenderer.invoke(ipcChannels.invoke, method, params);
  } catch (error) {
    // Only when the main process has no handler or went away: the binding itself
    // always answers with a Result.
    const detail = error instanceof Error ? error.message : String(error);
    return {
      ok: false,
      error: appError(
        'UNAVAILABLE',
        `The fieldkit main process did not answer ${method}: ${detail}`,
        'Restart fieldkit. If it keeps happening, send the log from Settings to the fieldkit team.',
      ),
    };
  }
  if (isResultShaped(answer)) return answer;
  return {
    ok: false,
    error: appError(
      'INTERNAL',
      `The fieldkit main process answered ${method} with something that is not a result.`,
      'This is a bug in fieldkit. Restart it; if it repeats, send the log from Settings to the fieldkit team.',
    ),
  };
}

/** Listens for one contract event; refuses names outside the contract and non-functions. */
function subscribeToEvent(ipcRenderer: IpcRendererLike, event: unknown, listener: unknown): () => void {
  if (!isEventName(event)) {
    const shown = typeof event === 'string' ? `'${event}'` : `a ${typeof event}`;
    throw new TypeError(`There is no API event ${shown}. Subscribe to one of: ${eventNames.join(', ')}.`);
  }
  if (typeof listener !== 'function') {
    throw new TypeError(`subscribe('${event}', listener) needs a function as listener.`);
  }
  const channel = ipcChannels.event(event);
  const deliver: IpcRendererListener = (_ipcEvent, payload) => {
    (listener as (payload: unknown) => void)(payload);
  };
  ipcRenderer.on(channel, deliver);
  let subscribed = true;
  return function unsubscribe() {
    if (!subscribed) return;
    subscribed = false;
    ipcRenderer.removeListener(channel, deliver);
  };
}

function isResultShaped(value: unknown): value is Result<unknown> {
  if (typeof value !== 'object' || value === null || !('ok' in value)) return false;
  if (value.ok === true) return 'value' in value;
  return value.ok === false && 'error' in value && typeof value.error === 'object' && value.error !== null;
}
