/**
 * What a drill leaves on the spare, and what it must not. The restore gives the spare the
 * source's configuration (its device id) and state (its journal J at the point's seq S), so the
 * spare's agent answers hello as the source — what the service checks need to prove the backup
 * restores a working device. But were it to journal on under J, its records would take seqs
 * S+1… that the real source also writes: two different records under one (device_id,
 * journal_id, seq), one of them silently dropped downstream once anyone pulled the spare.
 *
 * So, as after a same-device restore (rewoundJournal.ts), J is never written on the spare:
 * before its agent first starts, `journal-replaces --aside` keeps the restored J beside the new
 * journal (`journal.<J>.db`, byte for byte the source's records up to S) and starts a drill
 * journal of its own. The laptop's courier store is not touched: the source's J is not lost,
 * only copied. And once the checks are done, the spare's agent is stopped and disabled: a spare
 * left answering as the source would be pulled, sampled and shown as the source.
 */
import { appError, FieldkitError } from '../../shared/errors.ts';
import type { Link } from '../kernel/link/linkApi.ts';
import { shellQuote } from '../kernel/link/shellQuote.ts';
import { agentUnit } from './deviceTarget.ts';
import { readHead, type JournalHead, type RewindTarget } from './rewoundJournal.ts';
import type { StepRecorder } from './stepRecorder.ts';

export type DrillJournal = { restored: JournalHead; drillJournalId: string };

/** Step `journal-aside` (the agent stopped, after the restore, before it starts). */
export async function setRestoredJournalAside(steps: StepRecorder, spare: RewindTarget): Promise<DrillJournal> {
  return steps.step('journal-aside', `Keep the restored journal aside on ${spare.name} and start a drill journal (the source's journal is never written on the spare)`, async (cmd) => {
    const restored = await readHead(cmd, spare);
    const command = spare.agentAsService(`journal-replaces --journal ${shellQuote(restored.journalId)} --through ${String(restored.lastSeq)} --aside`);
    const result = await cmd.exec(spare.link, spare.name, command, { timeoutMs: 60_000 });
    const out = result.stdout.toString('utf8').trim();
    const answer = result.code === 0 ? (JSON.parse(out.split('\n').at(-1) ?? '{}') as { journal_id?: unknown }) : {};
    if (typeof answer.journal_id !== 'string') {
      throw new FieldkitError(appError('UNAVAILABLE', `Starting a drill journal on ${spare.name} failed (exit ${String(result.code)}): ${(result.stderr.toString('utf8').trim() || out).slice(0, 300)}`, `The drill stops the spare's agent; re-flash ${spare.name} (or delete its agent's config and data folder and deploy again) before using it.`));
    }
    cmd.detail(`the source's journal ${restored.journalId} restored at seq ${String(restored.lastSeq)}, kept aside as journal.${restored.journalId}.db (never written); the spare writes drill journal ${answer.journal_id}`);
    return { restored, drillJournalId: answer.journal_id };
  });
}

/** Step `retire-spare`: the spare's agent stopped and disabled; the detail says what is left and how to clean up. */
export async function retireSpare(steps: StepRecorder, spare: { name: string; link: Link; hasUnit: boolean }, left: { sourceName: string; sourceDeviceId: string; journal: DrillJournal | null }): Promise<void> {
  const held = `${spare.name} holds ${left.sourceName}'s configuration (device id ${left.sourceDeviceId}) and state${left.journal === null ? '' : `, the source's journal ${left.journal.restored.journalId} through seq ${String(left.journal.restored.lastSeq)} (kept aside) and the drill journal ${left.journal.drillJournalId}`}`;
  const cleanUp = `a pull of it is refused while its agent answers as ${left.sourceName} if this laptop has pulled ${left.sourceName} or ${spare.name} before (otherwise it would file the drill journal under ${left.sourceName}'s device id: do not pull it); to use ${spare.name} again, re-flash it, or delete the agent's config and data folder on it and deploy the agent again (a deploy never overwrites an existing config)`;
  if (!spare.hasUnit) {
    steps.skip('retire-spare', `Stop and disable the agent on ${spare.name}`, `${spare.name} runs a local agent, not a unit fieldkit manages: stop it yourself. ${held}; ${cleanUp}.`);
    return;
  }
  await steps.step('retire-spare', `Stop and disable the agent on ${spare.name} (it answers as ${left.sourceName})`, async (cmd) => {
    const command = `sudo -n systemctl disable --now ${shellQuote(agentUnit)}`;
    const result = await cmd.exec(spare.link, spare.name, command, { timeoutMs: 60_000 });
    if (result.code !== 0) {
      throw new FieldkitError(appError('IO_ERROR', `\`${command}\` on ${spare.name} exited ${String(result.code)}: ${result.stderr.toString('utf8').trim().slice(-300)}. ${held}.`, `Stop it by hand (${command}); ${cleanUp}.`));
    }
    cmd.detail(`agent stopped and disabled (it will not start on boot); ${held}; ${cleanUp}.`);
  });
}
