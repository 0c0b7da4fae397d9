/**
 * The agent's end of the RPC (`fieldkit-agent rpc`): frames in on `input`, frames out on
 * `output`, nothing else on `output` (logs go to `log`, stderr by default). Requests run
 * concurrently by id; streaming methods send items only under the credit the laptop
 * granted and while the output keeps up; `cancel` stops a stream. Every request gets
 * exactly one result. Bad frames and bad messages are reported and skipped: the link
 * resynchronises after noise (a serial console's kernel messages) and the server never
 * crashes on input.
 *
 * Over a serial console stdout and stderr share the tty: run it as
 * `fieldkit-agent rpc 2>>/var/log/fieldkit-agent-rpc.log` there, after `stty raw -echo`.
 */
import {
  agentMethodNames,
  agentMethods,
  isAgentMethodName,
  RpcMessageSchema,
  type AgentMethodName,
  type AgentStreamingMethodName,
  type RpcMessage,
} from '../../shared/agentRpc.ts';
import { appError, fail, ok, type Result } from '../../shared/errors.ts';
import { createFrameDecoder, defaultMaxPayloadBytes, type DecodedItem } from '../../shared/rpcFrame.ts';
import { createFrameWriter, type FrameWriter } from './frameWriter.ts';
import { streamHealthWatch } from './healthWatchStream.ts';
import { streamJournalRead } from './journalReadStream.ts';
import type { RpcDeps } from './rpcApi.ts';
import { badRequest, errorFromThrown, methodNotFound } from './rpcErrors.ts';
import { unaryHandlers } from './rpcMethods.ts';
import { createStreamState, type StreamControl, type StreamState } from './streamControl.ts';

export type ServeRpcOptions = {
  /** One line per call (no newline); stderr by default. Never the output stream. */
  log?: (line: string) => void;
  maxPayloadBytes?: number;
  /** Requests in flight at once; more are refused with UNAVAILABLE (bounded memory). */
  maxActiveRequests?: number;
};

type StreamProducer = (deps: RpcDeps, params: never, control: StreamControl) => Promise<unknown>;

const streamProducers: Record<AgentStreamingMethodName, StreamProducer> = {
  'journal.read': (deps, params, control) => streamJournalRead(deps.journal, params, control),
  'health.watch': (deps, params, control) => streamHealthWatch(deps.health, params, control),
};

function isStreaming(method: AgentMethodName): method is AgentStreamingMethodName {
  return Object.hasOwn(streamProducers, method);
}

/**
 * Says what went wrong on the input without flooding the log when a serial line is noisy:
 * damaged frames one line each (at most 20 per 10 s), plain noise as a byte count per 10 s.
 */
function createFaultLog(log: (line: string) => void): (item: DecodedItem & { kind: 'fault' }) => void {
  const windowMs = 10_000;
  const perWindow = 20;
  let windowStart = Date.now();
  let logged = 0;
  let suppressed = 0;
  let noiseBytes = 0;
  return (item) => {
    const now = Date.now();
    if (now - windowStart >= windowMs) {
      if (noiseBytes > 0) log(`rpc: skipped ${noiseBytes} bytes of noise on the input in the last ${Math.round((now - windowStart) / 1000)} s`);
      if (suppressed > 0) log(`rpc: ${suppressed} more damaged input frames not shown`);
      windowStart = now;
      logged = 0;
      suppressed = 0;
      noiseBytes = 0;
    }
    if (item.fault === 'garbage') {
      noiseBytes += item.bytes;
    } else if (logged < perWindow) {
      logged++;
      log(`rpc: input ${item.fault}: ${item.detail}`);
    } else {
      suppressed++;
    }
  };
}

/** An id to answer a message that failed validation with, when it carried a usable one. */
function idOf(message: unknown): number | null {
  const id = (message as { id?: unknown } | null)?.id;
  return typeof id === 'number' && Number.isSafeInteger(id) && id >= 0 ? id : null;
}

/**
 * Serves RPC until `input` ends (the link closed) and every request in flight has
 * finished; streams stop at once when the link closes.
 */
export function serveRpc(input: NodeJS.ReadableStream, output: NodeJS.WritableStream, deps: RpcDeps, options: ServeRpcOptions = {}): Promise<void> {
  const log =
    options.log ??
    ((line: string) => {
      process.stderr.write(`${line}\n`);
    });
  const maxActive = options.maxActiveRequests ?? 64;
  const writer: FrameWriter = createFrameWriter(output, options.maxPayloadBytes ?? defaultMaxPayloadBytes);
  const decoder = createFrameDecoder({ maxPayloadBytes: options.maxPayloadBytes ?? defaultMaxPayloadBytes });
  const logFault = createFaultLog(log);
  /** Requests in flight; streams carry their flow-control state. */
  const active = new Map<number, { method: AgentMethodName; stream: StreamState | null; done: Promise<void> }>();
  let inputEnded = false;

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
    if (inputEnded || writer.closed) stream?.abort();
  }

  function onRequest(message: RpcMessage & { type: 'request' }): void {
    const { id, method } = message;
    if (active.has(id)) {
      sendResult(id, fail(appError('BAD_REQUEST', `Request id ${id} is already in flight.`, 'Use a new id for each request (the client numbers them).', 'id')));
      return;
    }
    if (!isAgentMethodName(method)) {
      sendResult(id, fail(methodNotFound(method, agentMethodNames)));
      return;
    }
    if (active.size >= maxActive) {
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

  function onMessage(raw: unknown): void {
    const parsed = RpcMessageSchema.safeParse(raw);
    if (!parsed.success) {
      sendResult(idOf(raw), fail(badRequest('RPC message', parsed.error, '')));
      return;
    }
    const message = parsed.data;
    switch (message.type) {
      case 'request':
        onRequest(message);
        return;
      case 'credit':
        active.get(message.id)?.stream?.grant(message.n);
        return;
      case 'cancel':
        active.get(message.id)?.stream?.cancel();
        return;
      case 'bye':
        onBye();
        return;
      case 'item':
      case 'result':
        // Only the agent sends these; one coming back is an echo on a misconfigured tty.
        log(`rpc: ignored a '${message.type}' message from the laptop (is the tty echoing? run stty -echo)`);
        return;
    }
  }

  function onChunk(chunk: Buffer | string): void {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'latin1') : chunk;
    for (const item of decoder.push(bytes)) {
      if (item.kind === 'message') onMessage(item.message);
      else if (item.kind === 'fault') logFault(item);
      else log(`rpc: ignored a binary frame on channel ${item.channel} (no transfer open)`);
    }
  }

  // Set once the promise below exists: 'bye' ends the session like end-of-input does.
  let onBye: () => void = () => undefined;
  return new Promise<void>((resolve) => {
    let finished = false;
    function finish(): void {
      if (finished) return;
      finished = true;
      inputEnded = true;
      for (const item of decoder.end()) if (item.kind === 'fault') logFault(item);
      input.removeListener('data', onChunk);
      for (const entry of active.values()) entry.stream?.abort();
      const stats = decoder.stats;
      if (stats.skippedBytes > 0 || stats.badFrames > 0) log(`rpc: link closed; skipped ${stats.skippedBytes} bytes of noise, ${stats.badFrames} bad frames`);
      void Promise.allSettled([...active.values()].map((e) => e.done)).then(() => {
        resolve();
      });
    }
    onBye = finish;
    input.on('data', onChunk);
    input.once('end', finish);
    input.once('close', finish);
    input.once('error', (error: Error) => {
      log(`rpc: input failed: ${error.message}`);
      finish();
    });
    void writer.whenClosed.then(() => {
      for (const entry of active.values()) entry.stream?.abort();
    });
  });
}
