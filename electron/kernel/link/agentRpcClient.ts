/**
 * The laptop's end of the agent RPC, over any byte stream: a child process's stdio, an
 * SSH exec channel, a serial console in raw mode. `call` sends a request and resolves with
 * its Result; `stream` yields items as the consumer takes them and grants the agent credit
 * only as they are consumed, so a slow consumer (the courier writing to SQLite) throttles
 * the agent instead of filling memory. Every outcome is a Result: a timeout or a link that
 * closes is UNAVAILABLE, never a hang or a throw.
 *
 * Plain Node (no Electron): used by the Electron main process, the CLI and the tests.
 */
import { type z } from 'zod';
import {
  agentMethods,
  isStreamingMethod,
  RpcMessageSchema,
  type AgentMethodName,
  type AgentRequestOf,
  type AgentResponseOf,
  type AgentStreamItemOf,
  type AgentStreamingMethodName,
  type AgentUnaryMethodName,
  type RpcMessage,
} from '../../../shared/agentRpc.ts';
import { appError, fail, fieldPath, ok, type AppError, type Result } from '../../../shared/errors.ts';
import { createFrameDecoder, defaultMaxPayloadBytes, encodeFrame, type FrameFaultKind } from '../../../shared/rpcFrame.ts';

export type AgentRpcLink = { readable: NodeJS.ReadableStream; writable: NodeJS.WritableStream };

export type AgentRpcClientOptions = {
  /** How long a call may wait for its result, and a stream for its next item (ms). Default 30 s. */
  timeoutMs?: number;
  maxPayloadBytes?: number;
};

export type CallOptions = { timeoutMs?: number };

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

/** What the link has been through, for a diagnostics panel ("412 bytes of noise skipped"). */
export type LinkDiagnostics = {
  framesIn: number;
  framesOut: number;
  bytesIn: number;
  /** Bytes skipped as noise: kernel messages, banners, damaged frames. */
  skippedBytes: number;
  badFrames: number;
  faults: Partial<Record<FrameFaultKind, number>>;
  /** Our own requests coming back: the tty echoes (it should be in raw mode with -echo). */
  echoedMessages: number;
  /** Well-framed messages that were not valid RpcMessages, or answered nothing we asked. */
  strayMessages: number;
  /** The last complaint the agent could not tie to a request (a result with id null). */
  lastAgentError: AppError | null;
};

export type AgentRpcClient = {
  call<M extends AgentUnaryMethodName>(method: M, params: AgentRequestOf<M>, options?: CallOptions): Promise<Result<AgentResponseOf<M>>>;
  stream<M extends AgentStreamingMethodName>(method: M, params: AgentRequestOf<M>, options?: StreamOptions): AgentRpcStream<M>;
  diagnostics(): LinkDiagnostics;
  readonly closed: boolean;
  /** Fails what is pending with UNAVAILABLE, stops listening and ends our side of the link (the agent then exits). */
  close(): void;
};

type PendingCall = { kind: 'call'; method: AgentMethodName; finish(result: Result<unknown>): void };

type PendingStream = {
  kind: 'stream';
  method: AgentMethodName;
  /** An item arrived; `n` is its place in the stream when the agent numbers them. */
  item(value: unknown, n: number | undefined): void;
  /** `items`: how many items the agent says it sent before the result. */
  finish(result: Result<unknown>, items?: number): void;
};

function unavailable(message: string): AppError {
  return appError('UNAVAILABLE', message, 'Check the connection to the Pi (cable, network, SSH) and reconnect. A request in flight may or may not have been applied on the device.');
}

function lostOnLink(method: string, detail: string): AppError {
  return appError(
    'IO_ERROR',
    `${method}: ${detail}: a frame was lost on the link (damaged by noise).`,
    'Nothing after the gap was accepted. Pull again from the last stored seq; on a serial console, check the cable and that nothing else writes to the tty.',
  );
}

function invalidFromAgent(what: string, error: z.ZodError): AppError {
  const issue = error.issues[0];
  const field = issue ? fieldPath(issue.path) : '';
  return appError(
    'INTERNAL',
    `The agent sent an invalid ${what}${field === '' ? '' : ` (field '${field}')`}: ${issue?.message ?? 'invalid value'}.`,
    'The app and the agent speak different versions of the RPC: update the agent on this Pi.',
    field === '' ? undefined : field,
  );
}

function badParams(method: string, error: z.ZodError): AppError {
  const issue = error.issues[0];
  const path = issue ? fieldPath(issue.path) : '';
  const field = path === '' ? 'params' : `params.${path}`;
  return appError('BAD_REQUEST', `${method}: field '${field}': ${issue?.message ?? 'invalid value'}`, 'Check the request against shared/agentRpc.ts.', field);
}

function idOf(message: unknown): number | null {
  const id = (message as { id?: unknown } | null)?.id;
  return typeof id === 'number' ? id : null;
}

export function createAgentRpcClient(link: AgentRpcLink, options: AgentRpcClientOptions = {}): AgentRpcClient {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const maxPayloadBytes = options.maxPayloadBytes ?? defaultMaxPayloadBytes;
  const decoder = createFrameDecoder({ maxPayloadBytes });
  const pending = new Map<number, PendingCall | PendingStream>();
  const diagnostics: LinkDiagnostics = {
    framesIn: 0,
    framesOut: 0,
    bytesIn: 0,
    skippedBytes: 0,
    badFrames: 0,
    faults: {},
    echoedMessages: 0,
    strayMessages: 0,
    lastAgentError: null,
  };
  let nextId = 1;
  let closedReason: string | null = null;

  function send(message: RpcMessage): boolean {
    if (closedReason !== null) return false;
    try {
      link.writable.write(encodeFrame(message, maxPayloadBytes));
      diagnostics.framesOut++;
      return true;
    } catch {
      return false;
    }
  }

  function onMessage(raw: unknown): void {
    const parsed = RpcMessageSchema.safeParse(raw);
    if (!parsed.success) {
      diagnostics.strayMessages++;
      // A malformed answer to something we asked still ends that request, clearly.
      const id = idOf(raw);
      const target = id === null ? undefined : pending.get(id);
      if (target) {
        pending.delete(id ?? -1);
        target.finish(fail(invalidFromAgent('message', parsed.error)));
      }
      return;
    }
    const message = parsed.data;
    if (message.type === 'request' || message.type === 'credit' || message.type === 'cancel' || message.type === 'bye') {
      diagnostics.echoedMessages++;
      return;
    }
    if (message.id === null) {
      if (message.type === 'result' && !message.result.ok) diagnostics.lastAgentError = message.result.error;
      return;
    }
    const target = pending.get(message.id);
    if (target === undefined) {
      diagnostics.strayMessages++;
      return;
    }
    if (message.type === 'item') {
      if (target.kind === 'stream') target.item(message.item, message.n);
      else diagnostics.strayMessages++;
      return;
    }
    pending.delete(message.id);
    if (!message.result.ok) {
      target.finish(message.result, message.items);
      return;
    }
    const checked = agentMethods[target.method].response.safeParse(message.result.value);
    target.finish(checked.success ? ok(checked.data) : fail(invalidFromAgent(`${target.method} response`, checked.error)), message.items);
  }

  function onData(chunk: Buffer | string): void {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'latin1') : chunk;
    diagnostics.bytesIn += bytes.length;
    for (const item of decoder.push(bytes)) {
      if (item.kind === 'message') {
        diagnostics.framesIn++;
        onMessage(item.message);
      } else if (item.kind === 'fault') {
        diagnostics.faults[item.fault] = (diagnostics.faults[item.fault] ?? 0) + 1;
      } else {
        diagnostics.strayMessages++;
      }
    }
    diagnostics.skippedBytes = decoder.stats.skippedBytes;
    diagnostics.badFrames = decoder.stats.badFrames;
  }

  function shutDown(reason: string): void {
    if (closedReason !== null) return;
    closedReason = reason;
    for (const item of decoder.end()) if (item.kind === 'fault') diagnostics.faults[item.fault] = (diagnostics.faults[item.fault] ?? 0) + 1;
    diagnostics.skippedBytes = decoder.stats.skippedBytes;
    diagnostics.badFrames = decoder.stats.badFrames;
    link.readable.removeListener('data', onData);
    const failed = [...pending.values()];
    pending.clear();
    for (const target of failed) target.finish(fail(unavailable(`${reason} while waiting for ${target.method}.`)));
  }

  const onEnd = (): void => {
    shutDown('The link to the agent closed');
  };
  const onError = (error: Error): void => {
    shutDown(`The link to the agent failed (${error.message})`);
  };
  link.readable.on('data', onData);
  link.readable.once('end', onEnd);
  link.readable.once('close', onEnd);
  link.readable.on('error', onError);
  // Our side closing alone is not the end: the agent may still answer (a half-closed link).
  link.writable.on('error', onError);

  function checkParams(method: AgentMethodName, params: unknown): AppError | null {
    const parsed = agentMethods[method].request.safeParse(params);
    return parsed.success ? null : badParams(method, parsed.error);
  }

  function call<M extends AgentUnaryMethodName>(method: M, params: AgentRequestOf<M>, callOptions: CallOptions = {}): Promise<Result<AgentResponseOf<M>>> {
    if (isStreamingMethod(method)) {
      return Promise.resolve(fail(appError('BAD_REQUEST', `${method} streams: use stream(), not call().`, 'Call client.stream() for streaming methods.', 'method')));
    }
    const invalid = checkParams(method, params);
    if (invalid) return Promise.resolve(fail(invalid));
    if (closedReason !== null) return Promise.resolve(fail(unavailable(`${closedReason}; ${method} was not sent.`)));
    const id = nextId++;
    const limit = callOptions.timeoutMs ?? timeoutMs;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        if (!pending.has(id)) return;
        pending.delete(id);
        send({ type: 'cancel', id });
        resolve(fail(unavailable(`The agent did not answer ${method} within ${limit} ms.`)));
      }, limit);
      pending.set(id, {
        kind: 'call',
        method,
        finish(result) {
          clearTimeout(timer);
          resolve(result as Result<AgentResponseOf<M>>);
        },
      });
      send({ type: 'request', id, method, params, credit: 0 });
    });
  }

  function stream<M extends AgentStreamingMethodName>(method: M, params: AgentRequestOf<M>, streamOptions: StreamOptions = {}): AgentRpcStream<M> {
    const window = Math.max(1, Math.floor(streamOptions.window ?? 4));
    const interval = (params as { interval_ms?: unknown }).interval_ms;
    const idleLimit = streamOptions.idleTimeoutMs ?? Math.max(timeoutMs, typeof interval === 'number' ? 3 * interval : 0);
    const itemSchema = agentMethods[method].stream;
    const id = nextId++;
    const buffered: AgentStreamItemOf<M>[] = [];
    /** Items the agent may still send under the credit granted so far. */
    let owed = window;
    /** Items accepted from the agent, including any dropped after the consumer stopped. */
    let received = 0;
    let consumedSinceGrant = 0;
    let takenOne = false;
    let over = false;
    let iterating = false;
    let wakeConsumer: (() => void) | null = null;
    let idleTimer: NodeJS.Timeout | null = null;
    let resolveResult: (result: Result<AgentResponseOf<M>>) => void = () => undefined;
    const result = new Promise<Result<AgentResponseOf<M>>>((resolve) => {
      resolveResult = resolve;
    });

    function wake(): void {
      const w = wakeConsumer;
      wakeConsumer = null;
      w?.();
    }

    /** Watches for silence only while the agent owes us something (credit, or the result). */
    function armIdle(): void {
      if (idleTimer) clearTimeout(idleTimer);
      idleTimer = null;
      if (over || owed === 0) return;
      idleTimer = setTimeout(() => {
        if (over || !pending.has(id)) return;
        pending.delete(id);
        send({ type: 'cancel', id });
        end(fail(unavailable(`The agent sent nothing for ${idleLimit} ms during ${method}.`)));
      }, idleLimit);
    }

    function end(outcome: Result<unknown>): void {
      if (over) return;
      over = true;
      if (idleTimer) clearTimeout(idleTimer);
      resolveResult(outcome as Result<AgentResponseOf<M>>);
      wake();
    }

    function cancel(): void {
      if (over) return;
      send({ type: 'cancel', id });
    }

    const invalid = checkParams(method, params);
    if (invalid) end(fail(invalid));
    else if (closedReason !== null) end(fail(unavailable(`${closedReason}; ${method} was not sent.`)));
    else {
      pending.set(id, {
        kind: 'stream',
        method,
        item(value, n) {
          if (over) return;
          if (n !== undefined && n !== received) {
            pending.delete(id);
            send({ type: 'cancel', id });
            end(fail(lostOnLink(method, `item ${received} never arrived (the next one was ${n})`)));
            return;
          }
          const checked = itemSchema.safeParse(value);
          if (!checked.success) {
            pending.delete(id);
            send({ type: 'cancel', id });
            end(fail(invalidFromAgent(`${method} item`, checked.error)));
            return;
          }
          owed = Math.max(0, owed - 1);
          received++;
          buffered.push(checked.data as AgentStreamItemOf<M>);
          armIdle();
          wake();
        },
        finish(outcome, items) {
          if (items !== undefined && items !== received) {
            end(fail(lostOnLink(method, `the agent sent ${items} items, ${received} arrived`)));
            return;
          }
          end(outcome);
        },
      });
      send({ type: 'request', id, method, params, credit: window });
      armIdle();
    }

    /** The consumer is back for more: the item it took before is done with, so the agent may send another. */
    function consumed(): void {
      if (!takenOne) return;
      takenOne = false;
      consumedSinceGrant++;
      // Grant in halves of the window: fewer credit messages, and the agent never idles.
      if (!over && consumedSinceGrant >= Math.ceil(window / 2)) {
        send({ type: 'credit', id, n: consumedSinceGrant });
        owed += consumedSinceGrant;
        consumedSinceGrant = 0;
        armIdle();
      }
    }

    const iterator: AsyncIterator<AgentStreamItemOf<M>> = {
      async next() {
        consumed();
        while (buffered.length === 0 && !over) {
          await new Promise<void>((resolve) => {
            wakeConsumer = resolve;
          });
        }
        const value = buffered.shift();
        if (value === undefined) return { done: true, value: undefined };
        takenOne = true;
        return { done: false, value };
      },
      return() {
        // The consumer stopped early (break, throw): stop the agent too.
        cancel();
        buffered.length = 0;
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
      cancel,
    };
  }

  return {
    call,
    stream,
    diagnostics: () => ({ ...diagnostics, faults: { ...diagnostics.faults } }),
    get closed() {
      return closedReason !== null;
    },
    close() {
      const open = closedReason === null;
      shutDown('The link to the agent was closed by the app');
      link.readable.removeListener('end', onEnd);
      link.readable.removeListener('close', onEnd);
      // A serial console cannot signal end-of-file: say goodbye in the protocol too.
      if (open) link.writable.write(encodeFrame({ type: 'bye' }));
      link.writable.end();
    },
  };
}
