/**
 * A streaming call of the agent RPC: items are yielded as the consumer takes them, and the
 * agent is granted credit only as they are consumed, so a slow consumer (the courier writing
 * to SQLite) throttles the agent instead of filling memory. Silence while the agent owes an
 * item or the result ends the stream UNAVAILABLE; a numbered item that skips one, or a final
 * count that differs, ends it as a frame lost on the link. Breaking out of the loop cancels.
 */
import type { AgentRequestOf, AgentResponseOf, AgentStreamingMethodName, AgentStreamItemOf } from '../../../shared/agentRpc.ts';
import { agentMethods } from '../../../shared/agentRpc.ts';
import { fail, type Result } from '../../../shared/errors.ts';
import { invalidFromAgent, lostOnLink, unavailable } from './agentRpcErrors.ts';
import type { RpcSession } from './agentRpcSession.ts';
import { journalBatchShape } from './journalBatchShape.ts';

export type StreamOptions = {
  /** Items the agent may send ahead of the consumer (initial credit). Default 4. */
  window?: number;
  /** Longest silence while the agent owes an item or the result (ms). Default: the client's timeout, or 3× a health.watch interval. */
  idleTimeoutMs?: number;
};

/** A stream's items, then its final result. Breaking out of the loop cancels the stream. */
export type AgentRpcStream<M extends AgentStreamingMethodName> = AsyncIterable<AgentStreamItemOf<M>> & {
  /** Resolves with the response (or the failure) once the stream is over. */
  readonly result: Promise<Result<AgentResponseOf<M>>>;
  /** Asks the agent to stop; the result still comes (a summary of what was sent). */
  cancel(): void;
};

/** One stream's flow control: the credit it granted, the items it holds, its idle timer and its end. */
class StreamFlow<M extends AgentStreamingMethodName> {
  readonly buffered: AgentStreamItemOf<M>[] = [];
  /** Items the agent may still send under the credit granted so far. */
  private owed: number;
  /** Items accepted from the agent, including any dropped after the consumer stopped. */
  private received = 0;
  private consumedSinceGrant = 0;
  private takenOne = false;
  over = false;
  private wakeConsumer: (() => void) | null = null;
  private idleTimer: NodeJS.Timeout | null = null;
  private readonly resolveResult: (result: Result<AgentResponseOf<M>>) => void;
  private readonly session: RpcSession;
  private readonly id: number;
  private readonly method: M;
  private readonly window: number;
  private readonly idleLimit: number;

  constructor(session: RpcSession, id: number, method: M, window: number, idleLimit: number, resolveResult: (result: Result<AgentResponseOf<M>>) => void) {
    this.session = session;
    this.id = id;
    this.method = method;
    this.window = window;
    this.owed = window;
    this.idleLimit = idleLimit;
    this.resolveResult = resolveResult;
  }

  /** Waits until an item or the end arrives. */
  waitForMore(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.wakeConsumer = resolve;
    });
  }

  private wake(): void {
    const w = this.wakeConsumer;
    this.wakeConsumer = null;
    w?.();
  }

  /** Watches for silence only while the agent owes us something (credit, or the result). */
  armIdle(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    if (this.over || this.owed === 0) return;
    this.idleTimer = setTimeout(() => {
      if (this.over || !this.session.pending.has(this.id)) return;
      this.session.pending.delete(this.id);
      this.session.send({ type: 'cancel', id: this.id });
      this.end(fail(unavailable(`The agent sent nothing for ${this.idleLimit} ms during ${this.method}.`)));
    }, this.idleLimit);
  }

  end(outcome: Result<unknown>): void {
    if (this.over) return;
    this.over = true;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.resolveResult(outcome as Result<AgentResponseOf<M>>);
    this.wake();
  }

  cancel(): void {
    if (this.over) return;
    this.session.send({ type: 'cancel', id: this.id });
  }

  /** Ends the stream with `outcome` and tells the agent to stop. */
  private abandon(outcome: Result<unknown>): void {
    this.session.pending.delete(this.id);
    this.session.send({ type: 'cancel', id: this.id });
    this.end(outcome);
  }

  /** An item from the agent: checked for its place in the stream and its schema, then held for the consumer. */
  item(value: unknown, n: number | undefined): void {
    if (this.over) return;
    if (n !== undefined && n !== this.received) {
      this.abandon(fail(lostOnLink(this.method, `item ${this.received} never arrived (the next one was ${n})`)));
      return;
    }
    // Journal batches, the bulk of a pull, are checked without zod (journalBatchShape.ts).
    const fast = this.method === 'journal.read' ? journalBatchShape(value) : null;
    const checked = fast === null ? agentMethods[this.method].stream.safeParse(value) : { success: true as const, data: fast };
    if (!checked.success) {
      this.abandon(fail(invalidFromAgent(`${this.method} item`, checked.error)));
      return;
    }
    this.owed = Math.max(0, this.owed - 1);
    this.received++;
    this.buffered.push(checked.data as AgentStreamItemOf<M>);
    this.armIdle();
    this.wake();
  }

  /** The agent's result, with how many items it says it sent. */
  finish(outcome: Result<unknown>, items: number | undefined): void {
    if (items !== undefined && items !== this.received) {
      this.end(fail(lostOnLink(this.method, `the agent sent ${items} items, ${this.received} arrived`)));
      return;
    }
    this.end(outcome);
  }

  /** The consumer took an item. */
  took(): void {
    this.takenOne = true;
  }

  /** The consumer is back for more: the item it took before is done with, so the agent may send another. */
  consumed(): void {
    if (!this.takenOne) return;
    this.takenOne = false;
    this.consumedSinceGrant++;
    // Grant in halves of the window: fewer credit messages, and the agent never idles.
    if (!this.over && this.consumedSinceGrant >= Math.ceil(this.window / 2)) {
      this.session.send({ type: 'credit', id: this.id, n: this.consumedSinceGrant });
      this.owed += this.consumedSinceGrant;
      this.consumedSinceGrant = 0;
      this.armIdle();
    }
  }
}

export function openAgentStream<M extends AgentStreamingMethodName>(session: RpcSession, method: M, params: AgentRequestOf<M>, streamOptions: StreamOptions = {}): AgentRpcStream<M> {
  const window = Math.max(1, Math.floor(streamOptions.window ?? 4));
  const interval = (params as { interval_ms?: unknown }).interval_ms;
  const idleLimit = streamOptions.idleTimeoutMs ?? Math.max(session.timeoutMs, typeof interval === 'number' ? 3 * interval : 0);
  const id = session.newId();
  let resolveResult: (result: Result<AgentResponseOf<M>>) => void = () => undefined;
  const result = new Promise<Result<AgentResponseOf<M>>>((resolve) => {
    resolveResult = resolve;
  });
  const flow = new StreamFlow(session, id, method, window, idleLimit, resolveResult);

  const invalid = session.checkParams(method, params);
  if (invalid) flow.end(fail(invalid));
  else if (session.closedReason !== null) flow.end(fail(unavailable(`${session.closedReason}; ${method} was not sent.`)));
  else {
    session.pending.set(id, {
      kind: 'stream',
      method,
      item: (value, n) => {
        flow.item(value, n);
      },
      finish: (outcome, items) => {
        flow.finish(outcome, items);
      },
    });
    session.send({ type: 'request', id, method, params, credit: window });
    flow.armIdle();
  }

  let iterating = false;
  const iterator: AsyncIterator<AgentStreamItemOf<M>> = {
    async next() {
      flow.consumed();
      while (flow.buffered.length === 0 && !flow.over) await flow.waitForMore();
      const value = flow.buffered.shift();
      if (value === undefined) return { done: true, value: undefined };
      flow.took();
      return { done: false, value };
    },
    return() {
      // The consumer stopped early (break, throw): stop the agent too.
      flow.cancel();
      flow.buffered.length = 0;
      return Promise.resolve({ done: true, value: undefined });
    },
  };

  return {
    [Symbol.asyncIterator]() {
      if (iterating) throw new Error(`${method} stream is already being iterated`);
      iterating = true;
      return iterator;
    },
    result,
    cancel: () => {
      flow.cancel();
    },
  };
}
