/** Fan-out of contract events from laptop services to every connected carrier. */
import type { EventName, EventPayloadOf } from '../../../shared/api.ts';

export type EventListener = <E extends EventName>(name: E, payload: EventPayloadOf<E>) => void;

export type EventBus = {
  emit<E extends EventName>(name: E, payload: EventPayloadOf<E>): void;
  /** Returns the function that unsubscribes. */
  subscribe(listener: EventListener): () => void;
  listenerCount(): number;
};

/** A synchronous bus; a listener that throws is isolated from the others. */
export function createEventBus(onListenerError: (error: unknown) => void = () => undefined): EventBus {
  const listeners = new Set<EventListener>();
  return {
    emit(name, payload) {
      for (const listener of [...listeners]) {
        try {
          listener(name, payload);
        } catch (error) {
          onListenerError(error);
        }
      }
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    listenerCount: () => listeners.size,
  };
}
