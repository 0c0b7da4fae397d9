/**
 * The agent's part of the slot health gate. A device with the fieldkit agent installed
 * must, on the new slot, run the agent unit, answer `hello` over the agent RPC (the deploy
 * engine's `helloWithRetry`), and show the same journal at least as far as before the
 * update (journal.info: same journal id, last seq not lower) — the journal lives on the
 * data partition, and a slot that cannot see it would start a new one and lose custody.
 * Devices without the agent are judged by systemd alone.
 */
import type { JournalInfo } from '../../../shared/journal.ts';
import { appError, isFieldkitError, type AppError } from '../../../shared/errors.ts';
import { helloWithRetry, type AgentPaths } from '../agentGates.ts';
import type { RemoteSteps } from '../remoteSteps.ts';
import { shellQuote } from '../../kernel/link/shellQuote.ts';

/** Where the agent bundle installs (build/agent/installFiles.ts defaultLayout, its unit and user). */
export const slotAgentPaths: AgentPaths = { prefix: '/opt/fieldkit-agent', configPath: '/etc/fieldkit-agent/config.json', unit: 'fieldkit-agent.service', serviceUser: 'fieldkit-agent' };

export type SlotAgentGateName = 'agent-unit' | 'agent-hello' | 'agent-journal';
export type JournalMark = { journalId: string; lastSeq: number; records: number };
/** What preflight learnt: no agent, or an agent and its journal (null when it did not answer then). */
export type AgentBaseline = { installed: false } | { installed: true; journal: JournalMark | null };

function markOf(journals: readonly JournalInfo[]): JournalMark | null {
  const [first] = journals;
  return first === undefined ? null : { journalId: first.journal_id, lastSeq: first.last_seq, records: first.records };
}

/**
 * The journal gate's decision: the journal seen before the update must still be there with
 * nothing missing. Without a baseline (the agent did not answer before), any journal will do.
 */
export function judgeJournal(before: JournalMark | null, after: JournalMark | null): string | null {
  if (after === null) return 'the agent reports no journal';
  if (before === null) return null;
  if (after.journalId !== before.journalId) return `the agent opened another journal (${after.journalId}, was ${before.journalId}): the data partition's journal is not the one in use`;
  if (after.lastSeq < before.lastSeq) return `the journal ends at seq ${String(after.lastSeq)}, before the update it reached ${String(before.lastSeq)}`;
  return null;
}

async function readJournal(remote: RemoteSteps, paths: AgentPaths, step: string, timeoutMs: number): Promise<JournalMark | null> {
  const session = await helloWithRetry(remote, paths, step, timeoutMs);
  try {
    const info = await session.client.call('journal.info', {});
    if (!info.ok) throw new Error(`journal.info: ${info.error.message}`);
    return markOf(info.value.journals);
  } finally {
    await session.close();
  }
}

/** Preflight: is the agent installed (its unit file or its `current` release), and where does its journal stand. */
export async function agentBaseline(remote: RemoteSteps, paths: AgentPaths): Promise<AgentBaseline> {
  const unitFile = `/etc/systemd/system/${paths.unit}`;
  const found = await remote.run('preflight', `if [ -e ${shellQuote(unitFile)} ] || [ -e ${shellQuote(`${paths.prefix}/current`)} ]; then echo installed; else echo absent; fi`);
  if (found.stdout.toString('utf8').trim() !== 'installed') {
    remote.note('preflight', 'agent not installed: agent gates skipped');
    return { installed: false };
  }
  try {
    const journal = await readJournal(remote, paths, 'preflight', 5000);
    remote.note('preflight', `agent installed: journal ${journal?.journalId ?? 'none'} at seq ${String(journal?.lastSeq ?? 0)} (${String(journal?.records ?? 0)} records); the new slot must show it`);
    return { installed: true, journal };
  } catch (error) {
    // A broken agent must not block the OS update that may fix it; the gates still require it to answer afterwards.
    remote.note('preflight', `agent installed but not answering (${error instanceof Error ? error.message : String(error)}): the new slot must run it, any journal will do`);
    return { installed: true, journal: null };
  }
}

/** After the trial boot: unit active, hello answers, journal intact. Null when all pass. */
export async function runSlotAgentGates(remote: RemoteSteps, paths: AgentPaths, baseline: AgentBaseline, hint: string): Promise<{ gate: SlotAgentGateName; error: AppError } | null> {
  if (!baseline.installed) return null;
  const fail = (gate: SlotAgentGateName, message: string) => ({ gate, error: appError('IO_ERROR', `The new slot booted but failed the agent gate "${gate}": ${message}.`, hint) });
  const unit = shellQuote(paths.unit);
  // At boot the unit may still be starting: wait while it is activating, not longer.
  const active = await remote.run('gate', `for i in $(seq 60); do s=$(systemctl is-active ${unit}); [ "$s" = activating ] || break; sleep 0.5; done; echo "$s"`, { timeoutMs: 40_000 });
  const unitState = active.stdout.toString('utf8').trim() || 'unknown';
  if (unitState !== 'active') return fail('agent-unit', `${paths.unit} is ${unitState}`);
  let after: JournalMark | null;
  try {
    after = await readJournal(remote, paths, 'gate', 20_000);
  } catch (error) {
    return fail('agent-hello', `hello over the agent RPC did not answer (${isFieldkitError(error) ? error.appError.message : error instanceof Error ? error.message : String(error)})`);
  }
  const journal = judgeJournal(baseline.journal, after);
  if (journal !== null) return fail('agent-journal', journal);
  remote.note('gate', `Agent gates passed: ${paths.unit} active, hello answers, journal ${after?.journalId ?? ''} at seq ${String(after?.lastSeq ?? 0)}`);
  return null;
}
