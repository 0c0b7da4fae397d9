/**
 * The laptop's end of the agent RPC, over any byte stream: a child process's stdio, an
 * SSH exec channel, a serial console in raw mode. `call` sends a request and resolves with
 * its Result; `stream` (agentRpcStream.ts) yields items as the consumer takes them and grants
 * the agent credit only as they are consumed. Every outcome is a Result: a timeout or a link
 * that closes is UNAVAILABLE, never a hang or a throw. The link's frames, pending requests
 * and diagnostics are the session's (agentRpcSession.ts).
 *
 * Plain Node (no Electron): used by the Electron main process, the CLI and the tests.
 */
import {
  isStreamingMethod,
  type AgentRequestOf,
  type AgentResponseOf,
  type AgentStreamingMethodName,
  type AgentUnaryMethodName,
} from '../../../shared/agentRpc.ts';
import { appError, fail, type Result } from '../../../shared/errors.ts';
import { defaultMaxPayloadBytes, encodeFrame } from '../../../shared/rpcFrame.ts';
import { unavailable } from './agentRpcErrors.ts';
import { RpcSession, type AgentRpcLink, type LinkDiagnostics } from './agentRpcSession.ts';
import { openAgentStream, type AgentRpcStream, type StreamOptions } from './agentRpcStream.ts';

export type { AgentRpcLink, LinkDiagnostics } from './agentRpcSession.ts';
export type { AgentRpcStream, StreamOptions } from './agentRpcStream.ts';

export type AgentRpcClientOptions = {
  /** How long a call may wait for its result, and a stream for its next item (ms). Default 30 s. */
  timeoutMs?: number;
  maxPayloadBytes?: number;
};

export type CallOptions = { timeoutMs?: number };

export type AgentRpcClient = {
  call<M extends AgentUnaryMethodName>(method: M, params: AgentRequestOf<M>, options?: CallOptions): Promise<Result<AgentResponseOf<M>>>;
  stream<M extends AgentStreamingMethodName>(method: M, params: AgentRequestOf<M>, options?: StreamOptions): AgentRpcStream<M>;
  diagnostics(): LinkDiagnostics;
  readonly closed: boolean;
  /** Fails what is pending with UNAVAILABLE, stops listening and ends our side of the link (the agent then exits). */
  close(): void;
};

export function createAgentRpcClient(link: AgentRpcLink, options: AgentRpcClientOptions = {}): AgentRpcClient {
  const session = new RpcSession(link, options.timeoutMs ?? 30_000, options.maxPayloadBytes ?? defaultMaxPayloadBytes);
  const onEnd = (): void => {
    session.shutDown('The link to the agent closed');
  };
  const onError = (error: Error): void => {
    session.shutDown(`The link to the agent failed (${error.message})`);
  };
  link.readable.on('data', session.receive);
  link.readable.once('end', onEnd);
  link.readable.once('close', onEnd);
  link.readable.on('error', onError);
  // Our side closing alone is not the end: the agent may still answer (a half-closed link).
  link.writable.on('error', onError);

  return {
    call(method, params, callOptions) {
      return callAgent(session, method, params, callOptions);
    },
    stream(method, params, streamOptions) {
      return openAgentStream(session, method, params, streamOptions);
    },
    diagnostics: () => ({ ...session.diagnostics, faults: { ...session.diagnostics.faults } }),
    get closed() {
      return session.closedReason !== null;
    },
    close() {
      const open = session.closedReason === null;
      session.shutDown('The link to the agent was closed by the app');
      link.readable.removeListener('end', onEnd);
      link.readable.removeListener('close', onEnd);
      // A serial console cannot signal end-of-file: say goodbye in the protocol too.
      if (open) link.writable.write(encodeFrame({ type: 'bye' }));
      link.writable.end();
    },
  };
}

/** One request, one result: UNAVAILABLE when the link is closed or the agent does not answer in time (the request is then cancelled). */
function callAgent<M extends AgentUnaryMethodName>(session: RpcSession, method: M, params: AgentRequestOf<M>, callOptions: CallOptions = {}): Promise<Result<AgentResponseOf<M>>> {
  if (isStreamingMethod(method)) {
    return Promise.resolve(fail(appError('BAD_REQUEST', `${method} streams: use stream(), not call().`, 'Call client.stream() for streaming methods.', 'method')));
  }
  const invalid = session.checkParams(method, params);
  if (invalid) return Promise.resolve(fail(invalid));
  if (session.closedReason !== null) return Promise.resolve(fail(unavailable(`${session.closedReason}; ${method} was not sent.`)));
  const id = session.newId();
  const limit = callOptions.timeoutMs ?? session.timeoutMs;
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      if (!session.pending.has(id)) return;
      session.pending.delete(id);
      session.send({ type: 'cancel', id });
      resolve(fail(unavailable(`The agent did not answer ${method} within ${limit} ms.`)));
    }, limit);
    session.pending.set(id, {
      kind: 'call',
      method,
      finish(result) {
        clearTimeout(timer);
        resolve(result as Result<AgentResponseOf<M>>);
      },
    });
    session.send({ type: 'request', id, method, params, credit: 0 });
  });
}
