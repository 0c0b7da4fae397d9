/** A carrier plus what the UI needs to know about its link: up, retrying, or refused. */
import type { EventName, FieldkitBridge, MethodName } from '../../../shared/api.ts';

export type ConnectionState =
  | { kind: 'connecting' }
  | { kind: 'open' }
  /** `nextAttemptAt` is null while an attempt is under way. */
  | { kind: 'retrying'; attempt: number; nextAttemptAt: number | null; everOpened: boolean }
  /** The web host needs a token and this window has none. */
  | { kind: 'no-token' }
  /** The web host refused the token; retrying will not help. */
  | { kind: 'refused' };

export type ConnectionSnapshot = {
  readonly state: ConnectionState;
  /** Grows each time the link (re)opens, so screens refetch what they may have missed. */
  readonly opens: number;
};

export type Connection = {
  readonly bridge: FieldkitBridge;
  /** The same object until something changes (useSyncExternalStore compares by identity). */
  snapshot: () => ConnectionSnapshot;
  onChange: (listener: () => void) => () => void;
  /** Skips the backoff wait; a no-op unless retrying. */
  retryNow: () => void;
};

/**
 * A carrier before validation: it passes on whatever the other side sent, and
 * `checkedBridge` turns that into typed results and events.
 */
export type RawCarrier = {
  readonly carrier: FieldkitBridge['carrier'];
  /** Resolves with the other side's answer (a Result, if it keeps the contract); never rejects. */
  call: (method: MethodName, params: unknown) => Promise<unknown>;
  listen: (event: EventName, listener: (payload: unknown) => void) => () => void;
};

/** A connection whose state never changes (Electron's IPC is up for the window's life). */
export function fixedConnection(bridge: FieldkitBridge, state: ConnectionState): Connection {
  const snapshot: ConnectionSnapshot = { state, opens: state.kind === 'open' ? 1 : 0 };
  return {
    bridge,
    snapshot: () => snapshot,
    onChange: () => () => undefined,
    retryNow: () => undefined,
  };
}
