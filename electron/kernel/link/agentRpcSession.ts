/**
 * One link's side of the agent RPC: frames out and in, the requests still waiting for their
 * result (by id), and what the link has been through (diagnostics). Noise on the line —
 * kernel messages, banners, a damaged frame, our own echoed requests — is counted, never
 * taken for an answer. Calls (agentRpcClient.ts) and streams (agentRpcStream.ts) register in
 * `pending`; a closed link fails every one of them with UNAVAILABLE.
 */
import { zstdDecompressSync } from 'node:zlib';
import { agentMethods, RpcMessageSchema, type AgentMethodName, type RpcMessage } from '../../../shared/agentRpc.ts';
import { fail, ok, type AppError, type Result } from '../../../shared/errors.ts';
import { createFrameDecoder, encodeFrame, type FrameFaultKind } from '../../../shared/rpcFrame.ts';
import { badParams, invalidFromAgent, unavailable } from './agentRpcErrors.ts';

const utf8Fatal = new TextDecoder('utf-8', { fatal: true });

export type AgentRpcLink = { readable: NodeJS.ReadableStream; writable: NodeJS.WritableStream };

/** What the link has been through, for a diagnostics panel ("412 bytes of noise skipped"). */
export type LinkDiagnostics = {
  framesIn: number;
  framesOut: number;
  bytesIn: number;
  /** Bytes skipped as noise: kernel messages, banners, damaged frames. */
  skippedBytes: number;
  badFrames: number;
  /** Frames that arrived zstd-compressed (journal.read items, once negotiated), and what they held once decompressed. */
  compressedFramesIn: number;
  decompressedBytes: number;
  faults: Partial<Record<FrameFaultKind, number>>;
  /** Our own requests coming back: the tty echoes (it should be in raw mode with -echo). */
  echoedMessages: number;
  /** Well-framed messages that were not valid RpcMessages, or answered nothing we asked. */
  strayMessages: number;
  /** The last complaint the agent could not tie to a request (a result with id null). */
  lastAgentError: AppError | null;
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

function idOf(message: unknown): number | null {
  const id = (message as { id?: unknown } | null)?.id;
  return typeof id === 'number' ? id : null;
}

export class RpcSession {
  /** Requests waiting for their result, by id. */
  readonly pending = new Map<number, PendingCall | PendingStream>();
  readonly diagnostics: LinkDiagnostics = {
    framesIn: 0,
    framesOut: 0,
    bytesIn: 0,
    skippedBytes: 0,
    badFrames: 0,
    compressedFramesIn: 0,
    decompressedBytes: 0,
    faults: {},
    echoedMessages: 0,
    strayMessages: 0,
    lastAgentError: null,
  };
  /** How long a call may wait for its result, and a stream for its next item (ms). */
  readonly timeoutMs: number;
  /** Why the link is closed; null while it is open. */
  closedReason: string | null = null;
  private readonly link: AgentRpcLink;
  private readonly maxPayloadBytes: number;
  private readonly decoder: ReturnType<typeof createFrameDecoder>;
  private nextId = 1;
  /** Compressed frames whose CRC held but whose content did not decompress to JSON. */
  private badCompressed = 0;

  constructor(link: AgentRpcLink, timeoutMs: number, maxPayloadBytes: number) {
    this.link = link;
    this.timeoutMs = timeoutMs;
    this.maxPayloadBytes = maxPayloadBytes;
    this.decoder = createFrameDecoder({ maxPayloadBytes });
  }

  newId(): number {
    return this.nextId++;
  }

  send(message: RpcMessage): boolean {
    if (this.closedReason !== null) return false;
    try {
      this.link.writable.write(encodeFrame(message, this.maxPayloadBytes));
      this.diagnostics.framesOut++;
      return true;
    } catch {
      return false;
    }
  }

  checkParams(method: AgentMethodName, params: unknown): AppError | null {
    const parsed = agentMethods[method].request.safeParse(params);
    return parsed.success ? null : badParams(method, parsed.error);
  }

  /** The link's 'data' listener. */
  readonly receive = (chunk: Buffer | string): void => {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'latin1') : chunk;
    this.diagnostics.bytesIn += bytes.length;
    for (const item of this.decoder.push(bytes)) {
      if (item.kind === 'message') {
        this.diagnostics.framesIn++;
        this.onMessage(item.message);
      } else if (item.kind === 'fault') {
        this.countFault(item.fault);
      } else if (item.kind === 'compressed') {
        this.onCompressed(item.data);
      } else {
        this.diagnostics.strayMessages++;
      }
    }
    this.diagnostics.skippedBytes = this.decoder.stats.skippedBytes;
    this.diagnostics.badFrames = this.decoder.stats.badFrames + this.badCompressed;
  };

  /** Closes the session: stops listening and fails everything pending with UNAVAILABLE, saying `reason`. */
  shutDown(reason: string): void {
    if (this.closedReason !== null) return;
    this.closedReason = reason;
    for (const item of this.decoder.end()) if (item.kind === 'fault') this.countFault(item.fault);
    this.diagnostics.skippedBytes = this.decoder.stats.skippedBytes;
    this.diagnostics.badFrames = this.decoder.stats.badFrames + this.badCompressed;
    this.link.readable.removeListener('data', this.receive);
    const failed = [...this.pending.values()];
    this.pending.clear();
    for (const target of failed) target.finish(fail(unavailable(`${reason} while waiting for ${target.method}.`)));
  }

  /**
   * A zstd frame: decompressed into at most the frame bound (a corrupt or hostile frame
   * cannot make us allocate more), then handled as the JSON message it holds. One that
   * does not decompress to UTF-8 JSON is refused like a damaged frame: its item never
   * arrives, so the stream ends at the gap and nothing of it is stored.
   */
  private onCompressed(data: Uint8Array): void {
    let message: unknown;
    try {
      const plain = zstdDecompressSync(data, { maxOutputLength: this.maxPayloadBytes });
      this.diagnostics.decompressedBytes += plain.length;
      message = JSON.parse(utf8Fatal.decode(plain)) as unknown;
    } catch {
      this.countFault('payload_invalid');
      this.badCompressed++;
      return;
    }
    this.diagnostics.compressedFramesIn++;
    this.diagnostics.framesIn++;
    this.onMessage(message);
  }

  private countFault(fault: FrameFaultKind): void {
    this.diagnostics.faults[fault] = (this.diagnostics.faults[fault] ?? 0) + 1;
  }

  private onMessage(raw: unknown): void {
    const { diagnostics, pending } = this;
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
}
