/**
 * The web host's carrier: the app API over one WebSocket (`shared/api.ts`: ClientMessage
 * out, ServerMessage in). It reconnects with backoff when the socket drops; calls in
 * flight then fail with UNAVAILABLE rather than hang, and screens refetch on reopen.
 */
import { z } from 'zod';
import type { ClientMessage, EventName, MethodName } from '../../../shared/api.ts';
import { fail } from '../../../shared/errors.ts';
import { callTimedOutError, connectionLostError, notConnectedError } from './clientErrors.ts';
import { createCheckedBridge } from './checkedBridge.ts';
import type { Connection, ConnectionSnapshot, ConnectionState, RawCarrier } from './connection.ts';
import { reconnectDelayMs } from './reconnectDelay.ts';

/** Close code the web host uses for a missing or wrong token. */
export const tokenRefusedCloseCode = 4401;

/** Methods start jobs and return at once; a minute without an answer means it is lost. */
const callTimeoutMs = 60_000;

/** Only the envelope is checked here; checkedBridge checks what is inside against the contract. */
const ServerEnvelopeSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('result'), id: z.number().int().nullable(), result: z.unknown() }),
  z.object({ type: z.literal('event'), name: z.string(), payload: z.unknown() }),
]);

type PendingCall = {
  method: MethodName;
  resolve: (answer: unknown) => void;
  timer: ReturnType<typeof setTimeout>;
};

export type WebSocketEndpoint = {
  /** ws(s)://host/api?token=... */
  socketUrl: string;
  /**
   * A browser hides the HTTP status of a refused upgrade (the web host answers 401), so
   * after a failed handshake this URL (the socket's, over plain HTTP) is fetched: a 401 or
   * 403 there is a refusal, and so is a host that answers HTTP yet keeps refusing upgrades.
   */
  probeUrl: string;
};

/** Upgrades refused in a row, with the host answering HTTP, before the token is deemed refused. */
const refusedUpgradesBeforeGivingUp = 2;

/** Opens the connection at once and keeps it open until the page goes away. */
export function createWebSocketConnection(endpoint: WebSocketEndpoint): Connection {
  let snapshot: ConnectionSnapshot = { state: { kind: 'connecting' }, opens: 0 };
  const stateListeners = new Set<() => void>();
  const eventListeners = new Map<string, Set<(payload: unknown) => void>>();
  const pending = new Map<number, PendingCall>();
  /** Calls made before the first open wait for it instead of failing at startup. */
  const queued: ClientMessage[] = [];
  let nextId = 1;
  let socket: WebSocket | null = null;
  let failedAttempts = 0;
  let refusedUpgrades = 0;
  let retryTimer: ReturnType<typeof setTimeout> | null = null;

  function setState(state: ConnectionState, opened = false): void {
    snapshot = { state, opens: snapshot.opens + (opened ? 1 : 0) };
    for (const listener of [...stateListeners]) listener();
  }

  function connect(): void {
    retryTimer = null;
    if (snapshot.state.kind === 'retrying') setState({ ...snapshot.state, nextAttemptAt: null });
    let opened = false;
    const current = new WebSocket(endpoint.socketUrl);
    socket = current;
    current.addEventListener('open', () => {
      opened = true;
      failedAttempts = 0;
      refusedUpgrades = 0;
      setState({ kind: 'open' }, true);
      for (const message of queued.splice(0)) current.send(JSON.stringify(message));
    });
    current.addEventListener('message', (event: MessageEvent<unknown>) => {
      receive(event.data);
    });
    current.addEventListener('close', (event) => {
      if (socket !== current) return;
      socket = null;
      failEverythingInFlight();
      if (event.code === tokenRefusedCloseCode) {
        refuse();
      } else if (opened) {
        scheduleRetry();
      } else {
        void probeAfterFailedHandshake();
      }
    });
  }

  async function probeAfterFailedHandshake(): Promise<void> {
    try {
      const response = await fetch(endpoint.probeUrl, { cache: 'no-store', credentials: 'omit' });
      refusedUpgrades += 1;
      // One refused upgrade with the host up can be a restart racing us; two is the token.
      if (response.status === 401 || response.status === 403 || refusedUpgrades >= refusedUpgradesBeforeGivingUp) {
        refuse();
        return;
      }
    } catch {
      // The host is not reachable at all: an ordinary reason to retry.
      refusedUpgrades = 0;
    }
    scheduleRetry();
  }

  function refuse(): void {
    setState({ kind: 'refused' });
  }

  function scheduleRetry(): void {
    failedAttempts += 1;
    const everOpened = snapshot.opens > 0;
    const delay = reconnectDelayMs(failedAttempts);
    setState({ kind: 'retrying', attempt: failedAttempts, nextAttemptAt: Date.now() + delay, everOpened });
    retryTimer = setTimeout(connect, delay);
  }

  function retryNow(): void {
    if (snapshot.state.kind !== 'retrying' || retryTimer === null) return;
    clearTimeout(retryTimer);
    connect();
  }

  function failEverythingInFlight(): void {
    queued.length = 0;
    for (const [id, call] of pending) {
      clearTimeout(call.timer);
      pending.delete(id);
      call.resolve(fail(connectionLostError(call.method)));
    }
  }

  function receive(data: unknown): void {
    let message: unknown;
    try {
      message = typeof data === 'string' ? JSON.parse(data) : undefined;
    } catch {
      message = undefined;
    }
    const envelope = ServerEnvelopeSchema.safeParse(message);
    if (!envelope.success) {
      console.warn('fieldkit: ignored a message that is not a ServerMessage', data);
      return;
    }
    const received = envelope.data;
    if (received.type === 'event') {
      for (const listener of [...(eventListeners.get(received.name) ?? [])]) {
        try {
          listener(received.payload);
        } catch (error) {
          console.error(`fieldkit: a '${received.name}' listener failed`, error);
        }
      }
      return;
    }
    const call = received.id === null ? undefined : pending.get(received.id);
    if (call === undefined || received.id === null) {
      // id null: the host could not read one of our messages. Nothing waits for it.
      console.warn('fieldkit: an answer matched no call in flight', received);
      return;
    }
    clearTimeout(call.timer);
    pending.delete(received.id);
    call.resolve(received.result);
  }

  function call(method: MethodName, params: unknown): Promise<unknown> {
    const kind = snapshot.state.kind;
    if (kind !== 'open' && kind !== 'connecting') {
      return Promise.resolve(fail(notConnectedError(method)));
    }
    const id = nextId++;
    const message: ClientMessage = { id, method, params };
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        pending.delete(id);
        resolve(fail(callTimedOutError(method, callTimeoutMs / 1000)));
      }, callTimeoutMs);
      pending.set(id, { method, resolve, timer });
      if (socket?.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
      else queued.push(message);
    });
  }

  function listen(event: EventName, listener: (payload: unknown) => void): () => void {
    let listeners = eventListeners.get(event);
    if (listeners === undefined) {
      listeners = new Set();
      eventListeners.set(event, listeners);
    }
    listeners.add(listener);
    return () => listeners.delete(listener);
  }

  // Coming back online or to the tab is a good moment to skip the rest of the wait.
  window.addEventListener('online', retryNow);
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') retryNow();
  });

  const raw: RawCarrier = { carrier: 'web', call, listen };
  connect();
  return {
    bridge: createCheckedBridge(raw),
    snapshot: () => snapshot,
    onChange(listener) {
      stateListeners.add(listener);
      return () => stateListeners.delete(listener);
    },
    retryNow,
  };
}
