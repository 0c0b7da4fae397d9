/**
 * The web host's carrier: the app API over one WebSocket (`shared/api.ts`: ClientMessage
 * out, ServerMessage in). It reconnects with backoff when the socket drops; calls in
 * flight then fail with UNAVAILABLE rather than hang, and screens refetch on reopen.
 */
import type { MethodName } from '../../../shared/api.ts';
import { fail } from '../../../shared/errors.ts';
import { notConnectedError } from './clientErrors.ts';
import { createCheckedBridge } from './checkedBridge.ts';
import type { Connection, ConnectionSnapshot, ConnectionState, RawCarrier } from './connection.ts';
import { reconnectDelayMs } from './reconnectDelay.ts';
import { createSocketMessages } from './socketMessages.ts';

/** Close code the web host uses for a missing or wrong token. */
export const tokenRefusedCloseCode = 4401;

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
  const messages = createSocketMessages();
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
      messages.flushQueued(current);
    });
    current.addEventListener('message', (event: MessageEvent<unknown>) => {
      messages.receive(event.data);
    });
    current.addEventListener('close', (event) => {
      if (socket !== current) return;
      socket = null;
      messages.failEverythingInFlight();
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
    const probe = await probeHandshake(endpoint.probeUrl, refusedUpgrades);
    refusedUpgrades = probe.refusedUpgrades;
    if (probe.refused) refuse();
    else scheduleRetry();
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

  function call(method: MethodName, params: unknown): Promise<unknown> {
    const kind = snapshot.state.kind;
    if (kind !== 'open' && kind !== 'connecting') {
      return Promise.resolve(fail(notConnectedError(method)));
    }
    return messages.call(method, params, socket);
  }

  // Coming back online or to the tab is a good moment to skip the rest of the wait.
  window.addEventListener('online', retryNow);
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') retryNow();
  });

  const raw: RawCarrier = { carrier: 'web', call, listen: messages.listen };
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

/**
 * After a failed handshake: the token refused, or an ordinary reason to retry? `refusedBefore`
 * is how many upgrades in a row were refused with the host answering HTTP.
 */
async function probeHandshake(probeUrl: string, refusedBefore: number): Promise<{ refused: boolean; refusedUpgrades: number }> {
  try {
    const response = await fetch(probeUrl, { cache: 'no-store', credentials: 'omit' });
    const refusedUpgrades = refusedBefore + 1;
    // One refused upgrade with the host up can be a restart racing us; two is the token.
    return { refused: response.status === 401 || response.status === 403 || refusedUpgrades >= refusedUpgradesBeforeGivingUp, refusedUpgrades };
  } catch {
    // The host is not reachable at all: an ordinary reason to retry.
    return { refused: false, refusedUpgrades: 0 };
  }
}
