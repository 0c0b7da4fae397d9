/**
 * What each screen was showing, kept for the session above the screens: only the selected
 * screen is mounted, so without this, going to Settings and back would forget the image
 * chosen on Flash, the verdicts on Courier, a half-typed form. A screen keeps its state
 * under a key of its own (`memoryKey`) and refreshes what it shows on return; it never
 * starts from nothing.
 */
import { createContext, useContext, useEffect, useReducer, useState, type Dispatch, type ReactNode, type SetStateAction } from 'react';

/** A name for one piece of remembered state; the type parameter ties what is stored to what is read. */
export type MemoryKey<T> = { readonly name: string; readonly sample?: T };

export function memoryKey<T>(name: string): MemoryKey<T> {
  return { name };
}

type Memory = Map<string, unknown>;

const ScreenMemoryContext = createContext<Memory | null>(null);

/** One memory for the window's session (a reload starts afresh, as the app does). */
export function ScreenMemoryProvider({ children }: { children: ReactNode }) {
  const [memory] = useState<Memory>(() => new Map());
  return <ScreenMemoryContext value={memory}>{children}</ScreenMemoryContext>;
}

function useMemory(): Memory {
  const memory = useContext(ScreenMemoryContext);
  if (memory === null) throw new Error('Remembered state must be used inside <ScreenMemoryProvider>.');
  return memory;
}

function recall<T>(memory: Memory, key: MemoryKey<T>, initial: T): T {
  // Only this key's own setter ever stores under its name, so what is there is a T.
  return memory.has(key.name) ? (memory.get(key.name) as T) : initial;
}

/** useState whose value outlives the screen: it starts from what it was when the screen was left. */
export function useRememberedState<T>(key: MemoryKey<T>, initial: T): [T, Dispatch<SetStateAction<T>>] {
  const memory = useMemory();
  const [value, setValue] = useState<T>(() => recall(memory, key, initial));
  useEffect(() => {
    memory.set(key.name, value);
  }, [memory, key.name, value]);
  return [value, setValue];
}

/** useReducer whose state outlives the screen. */
export function useRememberedReducer<S, E>(key: MemoryKey<S>, reducer: (state: S, event: E) => S, initial: S): [S, Dispatch<E>] {
  const memory = useMemory();
  const [state, dispatch] = useReducer(reducer, initial, (first) => recall(memory, key, first));
  useEffect(() => {
    memory.set(key.name, state);
  }, [memory, key.name, state]);
  return [state, dispatch];
}

/** Sets what another screen will find under `key` when it is next shown (Devices → "open this device's health"). */
export function useRememberedSetter<T>(key: MemoryKey<T>): (value: T) => void {
  const memory = useMemory();
  return (value) => {
    memory.set(key.name, value);
  };
}

/** What another screen left under `key` for this one (useRememberedSetter), taken once on entry: a request, not a state. */
export function useHandedOver<T>(key: MemoryKey<T>, initial: T): T {
  const memory = useMemory();
  const [value] = useState<T>(() => recall(memory, key, initial));
  // Dropped after the first render (not inside it: StrictMode runs initialisers twice).
  useEffect(() => {
    memory.delete(key.name);
  }, [memory, key.name]);
  return value;
}
