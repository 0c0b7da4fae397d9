/**
 * A restore of the state class onto the SAME device puts its journal back to the restore
 * point's seq S. The device had journaled on to N; if the agent went on writing under the same
 * journal id, its new records would take seqs S+1… that already name other records (pulled by
 * the courier, forwarded to ClickHouse, kept in the undo backup), and every key-based store
 * downstream would keep one and drop the other as a duplicate: silent loss.
 *
 * So the rewound journal is never continued. With the agent stopped:
 * - `readHead` (before the restore writes anything): the journal as the agent left it, id J and
 *   head N;
 * - `handOver` (after the restore, before the agent starts): the laptop closes J with a loss
 *   record `rewound_by_restore` for the seqs after the last it holds up to N (what it pulled
 *   stays, as pulled); on the device, `journal-replaces` moves the restored journal aside
 *   (kept, as `journal.<id>.db`) and starts a new journal whose seq 1 names it and S, the last
 *   seq it holds. The agent then writes only under the new journal id.
 */
import { appError, FieldkitError } from '../../shared/errors.ts';
import { closeReplacedJournal, createCourierStore } from '../courier/index.ts';
import type { Link } from '../kernel/link/linkApi.ts';
import { shellQuote } from '../kernel/link/shellQuote.ts';
import { openStore } from '../kernel/store/openStore.ts';
import type { StepCommands, StepRecorder } from './stepRecorder.ts';

export type JournalHead = { journalId: string; lastSeq: number };

export type RewindTarget = { name: string; link: Link; deviceId: string; agentAsService: (args: string) => string };

export type RewoundJournal = {
  /** The journal the agent had before the restore, its head, and what of it the laptop holds / closed as rewound. */
  before: JournalHead;
  laptopThroughSeq: number | null;
  rewound: { from_seq: number; to_seq: number } | null;
  /** The journal the restore put back, at the point's seq. */
  restored: JournalHead;
  /** The journal the agent writes from now on (seq 1 names `restored`). */
  newJournalId: string;
};

async function agentJson(cmd: StepCommands, target: RewindTarget, args: string, what: string): Promise<unknown> {
  const result = await cmd.exec(target.link, target.name, target.agentAsService(args), { timeoutMs: 60_000 });
  const out = result.stdout.toString('utf8').trim();
  if (result.code !== 0) throw new FieldkitError(appError('UNAVAILABLE', `${what} on ${target.name} failed (exit ${String(result.code)}): ${(result.stderr.toString('utf8').trim() || out).slice(0, 300)}`, 'The agent was not started on the rewound journal; see the runbook, then restore again.'));
  return JSON.parse(out.split('\n').at(-1) ?? '') as unknown;
}

/** The device's journal as `fieldkit-agent status --json` reads it from the file (the daemon stopped). */
export async function readHead(cmd: StepCommands, target: RewindTarget): Promise<JournalHead> {
  const status = (await agentJson(cmd, target, 'status --json', 'Reading the journal')) as { journal?: { journal_id?: unknown; last_seq?: unknown } };
  const { journal_id: journalId, last_seq: lastSeq } = status.journal ?? {};
  if (typeof journalId !== 'string' || typeof lastSeq !== 'number') throw new FieldkitError(appError('INTERNAL', `fieldkit-agent status on ${target.name} did not say its journal's id and seq.`, 'Report this.'));
  return { journalId, lastSeq };
}

/** Step `journal-continuity` of a state restore (see the file comment). */
export async function handOver(steps: StepRecorder, target: RewindTarget, dataDir: string, facts: { before: JournalHead; undoPointId: string | null }): Promise<RewoundJournal> {
  const { before } = facts;
  return steps.step('journal-continuity', `Start a new journal on ${target.name}: the restored one is kept as history, never written again`, async (cmd) => {
    const restored = await readHead(cmd, target);
    const laptop = closeOnLaptop(dataDir, target.deviceId, before);
    const command = `journal-replaces --journal ${shellQuote(restored.journalId)} --through ${String(restored.lastSeq)}`;
    const answer = (await agentJson(cmd, target, command, 'Starting the new journal')) as { journal_id?: unknown };
    if (typeof answer.journal_id !== 'string') throw new FieldkitError(appError('INTERNAL', `journal-replaces on ${target.name} answered without a journal id.`, 'Report this.'));
    const held = laptop.throughSeq === null ? 'none of it was pulled to this laptop' : `this laptop holds it through seq ${String(laptop.throughSeq)}`;
    const gap = laptop.rewound === null ? '' : `; seq ${String(laptop.rewound.from_seq)}-${String(laptop.rewound.to_seq)} recorded as rewound by this restore (${facts.undoPointId === null ? 'the undo backup' : `undo point ${facts.undoPointId}`} holds those it caught)`;
    cmd.detail(`journal ${before.journalId} was at seq ${String(before.lastSeq)} (${held}${gap}); journal ${restored.journalId} restored at seq ${String(restored.lastSeq)} kept aside; new journal ${answer.journal_id}`);
    return { before, laptopThroughSeq: laptop.throughSeq, rewound: laptop.rewound, restored, newJournalId: answer.journal_id };
  });
}

/** The rewound journal closed on the laptop, or nothing to close when it never pulled it. */
function closeOnLaptop(dataDir: string, deviceId: string, before: JournalHead): { throughSeq: number | null; rewound: { from_seq: number; to_seq: number } | null } {
  const db = openStore(dataDir);
  try {
    if (createCourierStore(db).journal(deviceId, before.journalId) === null) return { throughSeq: null, rewound: null };
    const closed = closeReplacedJournal(db, { deviceId, journalId: before.journalId, evidenceSeq: before.lastSeq, nowMs: Date.now(), reason: 'rewound_by_restore' });
    return { throughSeq: closed.through_seq, rewound: closed.lost === null ? null : { from_seq: closed.lost.from_seq, to_seq: closed.lost.to_seq } };
  } finally {
    db.close();
  }
}
