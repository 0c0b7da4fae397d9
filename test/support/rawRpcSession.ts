/**
 * Speaks the agent RPC frame by frame, with no client logic in between: for tests that
 * must see exactly what the agent sends (how many items under how much credit) and send
 * what a well-behaved client never would (noise, damaged frames, malformed messages).
 */
import type { RpcMessage } from '../../shared/agentRpc.ts';
import { createFrameDecoder, encodeFrame, type DecodedItem } from '../../shared/rpcFrame.ts';

export type RawRpcSession = {
  /** Every message received, in order. */
  readonly messages: RpcMessage[];
  /** Faults the decoder found on what the agent sent (should stay empty: its output is only frames). */
  readonly faults: (DecodedItem & { kind: 'fault' })[];
  send(message: RpcMessage | Record<string, unknown>): void;
  sendBytes(bytes: Uint8Array): void;
  /** Messages received for request `id`. */
  of(id: number): RpcMessage[];
  waitFor(what: string, probe: () => boolean, timeoutMs?: number): Promise<void>;
  /** Waits until `id` has its result and returns it. */
  result(id: number, timeoutMs?: number): Promise<RpcMessage & { type: 'result' }>;
};

export function rawRpcSession(link: { readable: NodeJS.ReadableStream; writable: NodeJS.WritableStream }): RawRpcSession {
  const decoder = createFrameDecoder();
  const messages: RpcMessage[] = [];
  const faults: (DecodedItem & { kind: 'fault' })[] = [];
  let changed: (() => void)[] = [];
  link.readable.on('data', (chunk: Buffer) => {
    for (const item of decoder.push(chunk)) {
      if (item.kind === 'message') messages.push(item.message as RpcMessage);
      else if (item.kind === 'fault') faults.push(item);
    }
    const woken = changed;
    changed = [];
    for (const w of woken) w();
  });

  function of(id: number): RpcMessage[] {
    return messages.filter((m) => 'id' in m && m.id === id);
  }

  async function waitFor(what: string, probe: () => boolean, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!probe()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 200));
        changed.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  return {
    messages,
    faults,
    send(message) {
      link.writable.write(encodeFrame(message));
    },
    sendBytes(bytes) {
      link.writable.write(bytes);
    },
    of,
    waitFor,
    async result(id, timeoutMs) {
      await waitFor(`the result of request ${id}`, () => of(id).some((m) => m.type === 'result'), timeoutMs);
      const found = of(id).find((m) => m.type === 'result');
      if (found?.type !== 'result') throw new Error('unreachable');
      return found;
    },
  };
}
