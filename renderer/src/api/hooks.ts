/**
 * The typed hooks screens use to reach fieldkit. They hide the carrier and refetch
 * whenever the link reopens, since events may have been missed while it was down.
 */
import { useCallback, useContext, useEffect, useEffectEvent, useState, useSyncExternalStore } from 'react';
import type { EventName, EventPayloadOf, FieldkitBridge, MethodName, RequestOf, ResponseOf } from '../../../shared/api.ts';
import type { AppError, Result } from '../../../shared/errors.ts';
import type { Connection, ConnectionSnapshot } from './connection.ts';
import { ConnectionContext } from './ConnectionProvider.tsx';

/** The window's connection; only the shell needs more than `useBridge`. */
export function useConnection(): Connection {
  const connection = useContext(ConnectionContext);
  if (connection === null) throw new Error('useConnection must be used inside <ConnectionProvider>.');
  return connection;
}

/** The typed app API, whichever carrier is under it. */
export function useBridge(): FieldkitBridge {
  return useConnection().bridge;
}

/** Connection state, re-rendering on every change. */
export function useConnectionSnapshot(): ConnectionSnapshot {
  const connection = useConnection();
  return useSyncExternalStore(connection.onChange, connection.snapshot);
}

/** How many times the link has opened; a dependency that refetches after a reconnect. */
export function useConnectionOpens(): number {
  return useConnectionSnapshot().opens;
}

/** Calls `listener` for every `event` while the component is mounted. */
export function useEvent<E extends EventName>(event: E, listener: (payload: EventPayloadOf<E>) => void): void {
  const bridge = useBridge();
  const onEvent = useEffectEvent(listener);
  useEffect(() => bridge.subscribe(event, (payload) => { onEvent(payload); }), [bridge, event]);
}

export type ApiQuery<T> = {
  /** The newest successful answer, kept while a reload is in flight or after it fails. */
  value: T | null;
  /** The error of the latest call, when it failed. */
  error: AppError | null;
  loading: boolean;
  reload: () => void;
};

type Settled<T> = { key: string; result: Result<T>; lastValue: T | null };

/**
 * Calls `method` on mount, when `params` change (compared by value), when the link
 * reopens, and on `reload()`.
 */
export function useApi<M extends MethodName>(method: M, params: RequestOf<M>): ApiQuery<ResponseOf<M>> {
  const bridge = useBridge();
  const { opens, state } = useConnectionSnapshot();
  const paramsKey = JSON.stringify(params);
  const [reloads, setReloads] = useState(0);
  const requestKey = `${method}\n${paramsKey}\n${opens}\n${reloads}`;
  const [settled, setSettled] = useState<Settled<ResponseOf<M>> | null>(null);

  useEffect(() => {
    let current = true;
    void bridge.invoke(method, JSON.parse(paramsKey) as RequestOf<M>).then((result) => {
      if (!current) return;
      setSettled((previous) => ({
        key: requestKey,
        result,
        lastValue: result.ok ? result.value : (previous?.lastValue ?? null),
      }));
    });
    return () => {
      current = false;
    };
  }, [bridge, method, paramsKey, requestKey]);

  const reload = useCallback(() => { setReloads((n) => n + 1); }, []);
  const latest = settled?.key === requestKey ? settled.result : null;
  // Failed only because the link is down: the call repeats when it reopens, and the
  // connection banner already says why, so this reads as still loading.
  const waitingForLink = latest !== null && !latest.ok && latest.error.code === 'UNAVAILABLE' && state.kind === 'retrying';
  return {
    value: settled?.lastValue ?? null,
    error: latest !== null && !latest.ok && !waitingForLink ? latest.error : null,
    loading: latest === null || waitingForLink,
    reload,
  };
}
