/**
 * The messages of one web host connection, whichever socket carries them: calls in flight
 * (matched to their answers by id, failed after a minute or when the socket drops), calls
 * made before the first open (queued), and event listeners. The carrier
 * (`webSocketCarrier.ts`) owns the socket and its reconnects.
 */
import { z } from 'zod';
import type { ClientMessage, EventName, MethodName } from '../../../shared/api.ts';
import { fail } from '../../../shared/errors.ts';
import { callTimedOutError, connectionLostError } from './clientErrors.ts';

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

export type SocketMessages = {
  /** Sends now when `socket` is open, else when `flushQueued` is given an open one. */
  call: (method: MethodName, params: unknown, socket: WebSocket | null) => Promise<unknown>;
  listen: (event: EventName, listener: (payload: unknown) => void) => () => void;
  /** Routes what the host sent: an answer to its call, an event to its listeners. */
  receive: (data: unknown) => void;
  flushQueued: (socket: WebSocket) => void;
  /** The socket dropped: every call waiting fails now (UNAVAILABLE) instead of hanging. */
  failEverythingInFlight: () => void;
};

export function createSocketMessages(): SocketMessages {
  const eventListeners = new Map<string, Set<(payload: unknown) => void>>();
  const pending = new Map<number, PendingCall>();
  /** Calls made before the first open wait for it instead of failing at startup. */
  const queued: ClientMessage[] = [];
  let nextId = 1;

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

  function call(method: MethodName, params: unknown, socket: WebSocket | null): Promise<unknown> {
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

  function flushQueued(socket: WebSocket): void {
    for (const message of queued.splice(0)) socket.send(JSON.stringify(message));
  }

  return { call, listen, receive, flushQueued, failEverythingInFlight };
}
