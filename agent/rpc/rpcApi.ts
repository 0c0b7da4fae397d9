/** What the RPC server needs from the rest of the agent. */
import type { ConfigStore } from '../config/configApi.ts';
import type { HealthSource } from '../health/healthApi.ts';
import type { Journal } from '../journal/journalApi.ts';

export type RpcDeps = {
  journal: Journal;
  health: HealthSource;
  config: ConfigStore;
  agentVersion: string;
};
// agent/rpc/rpcServer.ts exports:
//   serveRpc(input: NodeJS.ReadableStream, output: NodeJS.WritableStream, deps: RpcDeps): Promise<void>
// which resolves when the input ends (the link closed).
