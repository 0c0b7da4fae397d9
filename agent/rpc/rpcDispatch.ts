/**
 * Requests in flight: validated, dispatched by method (unary handlers, or stream producers
 * under the laptop's credit), and answered with exactly one result each, checked against
 * the method's response schema before it leaves. At most `maxActive` at once (bounded
 * memory); more are refused with UNAVAILABLE.
 */
import {
  agentMethodNames,
  agentMethods,
  isAgentMethodName,
  type AgentMethodName,
  type AgentParsedRequestOf,
  type AgentStreamingMethodName,
  type RpcMessage,
} from '../../shared/agentRpc.ts';
import { appError, fail, ok, type Result } from '../../shared/errors.ts';
import { createCompressionChoice } from './compressionChoice.ts';
import type { FrameWriter } from './frameWriter.ts';
import { streamHealthWatch } from './healthWatchStream.ts';
import { streamJournalRead } from './journalReadStream.ts';
import type { RpcDeps } from './rpcApi.ts';
import { badRequest, errorFromThrown, methodNotFound } from './rpcErrors.ts';
import { unaryHandlers } from './rpcMethods.ts';
import { createStreamState, type StreamControl, type StreamState } from './streamControl.ts';

type StreamProducer = (deps: RpcDeps, params: never, control: StreamControl) => Promise<unknown>;

const streamProducers: Record<AgentStreamingMethodName, StreamProducer> = {
  'journal.read': (deps, params: AgentParsedRequestOf<'journal.read'>, control) =>
    streamJournalRead(deps.journal, params, control, params.compression?.includes('zstd') === true ? createCompressionChoice() : null),
  'health.watch': (deps, params, control) => streamHealthWatch(deps.health, params, control),
};

function isStreaming(method: AgentMethodName): method is AgentStreamingMethodName {
  return Object.hasOwn(streamProducers, method);
}

export type DispatcherOptions = {
  writer: FrameWriter;
  deps: RpcDeps;
  log: (line: string) => void;
  maxActive: number;
  /** True once the input ended: a request that starts after that is aborted at once. */
  inputEnded: () => boolean;
};

export type Dispatcher = {
  request: (message: RpcMessage & { type: 'request' }) => void;
  /** Sends the one result of request `id` (null when a bad message carried no usable id). */
  sendResult: (id: number | null, result: Result<unknown>, items?: number) => void;
  /** The flow-control state of stream `id`, if it is one and still in flight. */
  stream: (id: number) => StreamState | null | undefined;
  abortStreams: () => void;
  /** Settles when every request in flight now has sent its result. */
  settled: () => Promise<unknown>;
};

export function createDispatcher(options: DispatcherOptions): Dispatcher {
  const { writer, deps, log } = options;
  /** Requests in flight; streams carry their flow-control state. */
  const active = new Map<number, { method: AgentMethodName; stream: StreamState | null; done: Promise<void> }>();

  function sendResult(id: number | null, result: Result<unknown>, items?: number): void {
    const message: RpcMessage = items === undefined ? { type: 'result', id, result } : { type: 'result', id, items, result };
    try {
      writer.send(message);
    } catch (error) {
      // Only an oversized value can fail to encode; the laptop still gets its one result.
      const failure = errorFromThrown(id === null ? 'request' : (active.get(id)?.method ?? 'request'), error);
      writer.send(items === undefined ? { type: 'result', id, result: fail(failure) } : { type: 'result', id, items, result: fail(failure) });
    }
  }

  /** Validates a response before it leaves, so a bug here is named here rather than on the laptop. */
  function checkedResponse(method: AgentMethodName, value: unknown): Result<unknown> {
    const parsed = agentMethods[method].response.safeParse(value);
    if (parsed.success) return ok(value);
    const error = badRequest(`the agent's ${method} response`, parsed.error, 'value');
    return fail(appError('INTERNAL', error.message, 'This is an agent bug: keep the agent log and report it.', error.field));
  }

  function start(id: number, method: AgentMethodName, params: unknown, credit: number): void {
    let stream: StreamState | null = null;
    let work: Promise<unknown>;
    if (isStreaming(method)) {
      const state = createStreamState(id, credit, writer);
      stream = state;
      work = streamProducers[method](deps, params as never, state);
    } else {
      const handler = unaryHandlers[method] as (deps: RpcDeps, params: unknown) => unknown;
      work = Promise.resolve().then(() => handler(deps, params));
    }
    const done = work.then(
      (value) => {
        sendResult(id, checkedResponse(method, value), stream?.sent);
      },
      (error: unknown) => {
        const failure = errorFromThrown(method, error);
        if (failure.code === 'INTERNAL') log(`rpc: ${method} (id ${id}) failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
        sendResult(id, fail(failure), stream?.sent);
      },
    );
    const entry = { method, stream, done: done.finally(() => active.delete(id)) };
    active.set(id, entry);
    // The link may have closed while the request was being parsed.
    if (options.inputEnded() || writer.closed) stream?.abort();
  }

  function request(message: RpcMessage & { type: 'request' }): void {
    const { id, method } = message;
    if (active.has(id)) {
      sendResult(id, fail(appError('BAD_REQUEST', `Request id ${id} is already in flight.`, 'Use a new id for each request (the client numbers them).', 'id')));
      return;
    }
    if (!isAgentMethodName(method)) {
      sendResult(id, fail(methodNotFound(method, agentMethodNames)));
      return;
    }
    if (active.size >= options.maxActive) {
      sendResult(id, fail(appError('UNAVAILABLE', `The agent already has ${active.size} requests in flight.`, 'Wait for earlier requests to finish (or cancel streams) and send it again.')));
      return;
    }
    const parsed = agentMethods[method].request.safeParse(message.params ?? {});
    if (!parsed.success) {
      sendResult(id, fail(badRequest(method, parsed.error, 'params')));
      return;
    }
    start(id, method, parsed.data, message.credit);
  }

  return {
    request,
    sendResult,
    stream: (id) => active.get(id)?.stream,
    abortStreams: () => {
      for (const entry of active.values()) entry.stream?.abort();
    },
    settled: () => Promise.allSettled([...active.values()].map((e) => e.done)),
  };
}
