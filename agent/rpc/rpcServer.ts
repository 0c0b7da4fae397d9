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
import { RpcMessageSchema } from '../../shared/agentRpc.ts';
import { fail } from '../../shared/errors.ts';
import { createFrameDecoder, defaultMaxPayloadBytes } from '../../shared/rpcFrame.ts';
import { createFrameWriter, type FrameWriter } from './frameWriter.ts';
import type { RpcDeps } from './rpcApi.ts';
import { createDispatcher } from './rpcDispatch.ts';
import { badRequest } from './rpcErrors.ts';
import { createFaultLog } from './rpcFaultLog.ts';

export type ServeRpcOptions = {
  /** One line per call (no newline); stderr by default. Never the output stream. */
  log?: (line: string) => void;
  maxPayloadBytes?: number;
  /** Requests in flight at once; more are refused with UNAVAILABLE (bounded memory). */
  maxActiveRequests?: number;
};

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
  let inputEnded = false;
  const dispatcher = createDispatcher({ writer, deps, log, maxActive, inputEnded: () => inputEnded });
  const { sendResult } = dispatcher;

  function onMessage(raw: unknown): void {
    const parsed = RpcMessageSchema.safeParse(raw);
    if (!parsed.success) {
      sendResult(idOf(raw), fail(badRequest('RPC message', parsed.error, '')));
      return;
    }
    const message = parsed.data;
    switch (message.type) {
      case 'request':
        dispatcher.request(message);
        return;
      case 'credit':
        dispatcher.stream(message.id)?.grant(message.n);
        return;
      case 'cancel':
        dispatcher.stream(message.id)?.cancel();
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
      else if (item.kind === 'binary') log(`rpc: ignored a binary frame on channel ${item.channel} (no transfer open)`);
      else log('rpc: ignored a compressed frame from the laptop (only the agent sends those)');
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
      dispatcher.abortStreams();
      const stats = decoder.stats;
      if (stats.skippedBytes > 0 || stats.badFrames > 0) log(`rpc: link closed; skipped ${stats.skippedBytes} bytes of noise, ${stats.badFrames} bad frames`);
      void dispatcher.settled().then(() => {
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
      dispatcher.abortStreams();
    });
  });
}
