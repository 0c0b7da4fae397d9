/**
 * The request/response methods of the agent RPC, each against RpcDeps. The streaming
 * ones (journal.read, health.watch) live in their own files. Handlers throw
 * FieldkitError for failures the laptop should see as such; the server turns anything
 * thrown into a result.
 */
import { readFileSync } from 'node:fs';
import { arch, hostname, uptime } from 'node:os';
import { join } from 'node:path';
import { agentCapabilities, agentProtocolVersion, type AgentParsedRequestOf, type AgentResponseOf, type AgentUnaryMethodName } from '../../shared/agentRpc.ts';
import { appError, FieldkitError } from '../../shared/errors.ts';
import { redactConfig, restoreRedactedSecrets } from './configRedaction.ts';
import { checkJournalId } from './journalReadStream.ts';
import type { RpcDeps } from './rpcApi.ts';

type UnaryHandlers = {
  [M in AgentUnaryMethodName]: (deps: RpcDeps, params: AgentParsedRequestOf<M>) => AgentResponseOf<M> | Promise<AgentResponseOf<M>>;
};

/** The kernel's id of this boot: tells the laptop the Pi rebooted since the last visit. */
function readBootId(procRoot: string): string | null {
  try {
    const id = readFileSync(join(procRoot, 'sys/kernel/random/boot_id'), 'utf8').trim();
    return id === '' ? null : id;
  } catch {
    return null;
  }
}

function refuseFutureSeq(deps: RpcDeps, throughSeq: number): void {
  const lastSeq = deps.journal.info().last_seq;
  if (throughSeq > lastSeq) {
    throw new FieldkitError(
      appError(
        'BAD_REQUEST',
        `Cannot confirm through seq ${throughSeq}: this journal's last seq is ${lastSeq}.`,
        'Confirm only what was pulled from this journal (the courier may be confusing two journals).',
        'params.through_seq',
      ),
    );
  }
}

export const unaryHandlers: UnaryHandlers = {
  hello(deps) {
    const config = deps.config.get();
    return {
      protocol_version: agentProtocolVersion,
      agent_version: deps.agentVersion,
      device_id: deps.journal.deviceId,
      journal_id: deps.journal.journalId,
      site: config.site,
      model_version: config.model_version,
      hostname: hostname(),
      arch: arch(),
      clock_ms: Date.now(),
      uptime_s: uptime(),
      boot_id: readBootId(config.health.proc_root),
      capabilities: [agentCapabilities.journalReadZstd, agentCapabilities.journalReadLines],
    };
  },
  'journal.info'(deps) {
    return { journals: [deps.journal.info()] };
  },
  'custody.ack'(deps, params) {
    checkJournalId(deps.journal, params.journal_id);
    refuseFutureSeq(deps, params.through_seq);
    return { through_seq: deps.journal.ackCustody(params.courier_id, params.through_seq, Date.now()) };
  },
  'forwarded.ack'(deps, params) {
    checkJournalId(deps.journal, params.journal_id);
    refuseFutureSeq(deps, params.through_seq);
    return { forwarded_seq: deps.journal.ackForwarded(params.by, params.through_seq, Date.now()) };
  },
  'loss.list'(deps, params) {
    if (params.journal_id !== undefined) checkJournalId(deps.journal, params.journal_id);
    return { losses: deps.journal.losses(params.after_seq) };
  },
  'health.get'(deps) {
    return deps.health.sample();
  },
  'health.history'(deps, params) {
    return deps.health.history(params.since_ms);
  },
  'config.get'(deps) {
    return { config: redactConfig(deps.config.get()) };
  },
  'config.set'(deps, params) {
    const outcome = deps.config.set(restoreRedactedSecrets(params.config, deps.config.get()));
    return { config: redactConfig(outcome.config), restart_required: outcome.restart_required };
  },
};
