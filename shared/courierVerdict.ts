/**
 * What reconcile says about one journal, in words the CLI (`fieldkit reconcile`) and the
 * Courier screen share. Pure: the facts come in, the verdict and its sentence go out.
 *
 * "Complete" is a claim about data the laptop cannot see: a device keeps journaling after
 * a pull. So the verdict always says *through which seq* and *as of when*, and the word
 * "complete" on its own (the `complete` status) is reserved for the case where nothing is
 * known to be outside ClickHouse:
 *
 * - ClickHouse holds every seq from 1 through the device's latest seq as last known, and
 * - that latest seq was reported at the end of the last pull (the agent's head after the
 *   last batch was read), and no later word from the device (a live health sample) says
 *   it has journaled more.
 *
 * Anything the laptop knows to be on the device and not in ClickHouse makes the status
 * `not_yet_pulled` ("complete through seq N (pulled 8 min ago); not yet pulled: about M
 * records") when everything up to N is there, or `missing` when ClickHouse lacks records
 * for any other reason (lost on device, not yet forwarded, quarantined, unknown…).
 */
import type { MissingRange, MissingReason } from './courier.ts';
import { formatAgo } from './format.ts';

/** The device's latest seq as the laptop last heard it. */
export type DeviceHead = {
  seq: number;
  atMs: number;
  /** `pull`: the agent's own answer at the end of a pull (exact); `health`: estimated from a live sample's backlog. */
  source: 'pull' | 'health';
};

export type VerdictStatus = 'complete' | 'not_yet_pulled' | 'missing';

export type VerdictInput = {
  /** "pi-07" or "pi-07 (journal 0a1b2c3d)". */
  label: string;
  /** Every missing range, explained (not only the ones listed). */
  missing: readonly MissingRange[];
  duplicates: number;
  /** ClickHouse holds every seq from 1 through here. */
  completeThrough: number;
  /** When the last pull of this journal ended (its last batch, or its final look at the head). */
  lastPullMs: number;
  /** The device's head, when a later word than the pull says it journaled beyond what reconcile checked. */
  headBeyond: (DeviceHead & { records: number }) | null;
  nowMs: number;
};

export type Verdict = {
  status: VerdictStatus;
  /** The one-word-or-so badge: "complete", "complete through seq 1,200", "150 missing". */
  badge: string;
  /** Records known (or, from a health sample, estimated) to be on the device and not yet pulled. */
  notYetPulled: number;
  /** True when `notYetPulled` is an estimate ("about"). */
  estimated: boolean;
  /** The verdict without the label: "complete through seq 1350, all the device had when pulled 8 min ago". */
  text: string;
  /** `label: text`, one line for a terminal. */
  sentence: string;
};

/** 1350 → "1,350". */
export function count(n: number): string {
  return n.toLocaleString('en-US');
}

/** "1 record", "1,350 records". */
export function records(n: number): string {
  return `${count(n)} record${n === 1 ? '' : 's'}`;
}

const LOSS_WORDS: Record<string, string> = {
  retention_budget: 'retention',
  retention_max_age: 'retention by age',
  corruption: 'corruption',
  lost_with_device: 'lost with the failed device',
  rewound_by_restore: 'rewound by a restore of the device; see its undo backup',
};

/** A loss record's reason as people say it ("retention_budget" → "retention"). */
export function lossWords(reason: string): string {
  return LOSS_WORDS[reason] ?? reason;
}

/** The words of one reason as the summary shows them. */
export function reasonWords(range: Pick<MissingRange, 'reason' | 'detail'>): string {
  switch (range.reason) {
    case 'lost_on_device':
      // "lost with the failed device" says where on its own.
      return range.detail.startsWith('lost ') || range.detail.startsWith('rewound ') ? range.detail : `lost on device: ${range.detail}`;
    case 'not_yet_pulled':
      return 'not yet pulled';
    case 'not_yet_forwarded':
      return range.detail === '' ? 'not yet forwarded' : `not yet forwarded: ${range.detail}`;
    case 'quarantined':
      return 'quarantined: refused by ClickHouse';
    case 'discarded':
      return `discarded: ${range.detail}`;
    case 'held_by_other_courier':
      return 'held by another courier';
    case 'unknown':
      return range.detail === '' ? 'unknown' : `unknown: ${range.detail}`;
  }
}

/** "seq 1200-1350 missing (lost on device: retention)" parts, one per reason. */
function missingParts(missing: readonly MissingRange[]): string[] {
  const groups = new Map<string, MissingRange[]>();
  for (const m of missing) {
    const words = reasonWords(m);
    groups.set(words, [...(groups.get(words) ?? []), m]);
  }
  return [...groups].map(([words, ranges]) => {
    const span = (r: MissingRange): string => (r.from_seq === r.to_seq ? `${r.from_seq}` : `${r.from_seq}-${r.to_seq}`);
    if (ranges.length <= 3) return `seq ${ranges.map(span).join(', ')} missing (${words})`;
    const total = ranges.reduce((n, r) => n + r.count, 0);
    return `${total} seqs missing in ${ranges.length} ranges between ${ranges[0]?.from_seq ?? 0} and ${ranges.at(-1)?.to_seq ?? 0} (${words})`;
  });
}

const onlyWaitingOnDevice = (reason: MissingReason): boolean => reason === 'not_yet_pulled';

/** The verdict on one journal; see the file comment for when "complete" may stand alone. */
export function reconcileVerdict(input: VerdictInput): Verdict {
  const verdict = judge(input);
  return { ...verdict, sentence: `${input.label}: ${verdict.text}` };
}

function judge(input: VerdictInput): Omit<Verdict, 'sentence'> {
  const dupText = input.duplicates > 0 ? `; ${input.duplicates} duplicate${input.duplicates === 1 ? '' : 's'} awaiting merge` : '';
  const pulled = `pulled ${formatAgo(input.lastPullMs, input.nowMs)}`;
  const exactUnpulled = input.missing.filter((m) => onlyWaitingOnDevice(m.reason)).reduce((n, m) => n + m.count, 0);
  const beyond = input.headBeyond;
  const notYetPulled = exactUnpulled + (beyond?.records ?? 0);
  const estimated = beyond !== null && beyond.source === 'health';
  const where = beyond === null ? '' : ` (the device was at ${estimated ? 'about ' : ''}seq ${beyond.seq} ${formatAgo(beyond.atMs, input.nowMs)})`;
  const unpulledText = `not yet pulled: ${estimated ? 'about ' : ''}${records(notYetPulled)}${where}`;

  if (input.missing.length === 0 && beyond === null) {
    return {
      status: 'complete',
      badge: 'complete',
      notYetPulled: 0,
      estimated: false,
      text: `complete through seq ${input.completeThrough}, all the device had when ${pulled}${dupText}`,
    };
  }
  if (input.missing.every((m) => onlyWaitingOnDevice(m.reason))) {
    return {
      status: 'not_yet_pulled',
      badge: `complete through seq ${input.completeThrough}`,
      notYetPulled,
      estimated,
      text: `complete through seq ${input.completeThrough} (${pulled}); ${unpulledText}${dupText}`,
    };
  }
  const missingRecords = input.missing.reduce((n, m) => n + m.count, 0);
  const parts = missingParts(input.missing);
  // A journal the laptop closed (a replaced device's, or one a restore rewound): what the laptop has is whole up to there, and that is worth saying first.
  const closedWords = [lossWords('lost_with_device'), lossWords('rewound_by_restore')];
  const withDevice = input.missing.some((m) => m.reason === 'lost_on_device' && closedWords.includes(m.detail));
  if (withDevice && input.completeThrough > 0) parts.unshift(`complete through seq ${input.completeThrough}`);
  if (beyond !== null) parts.push(`not yet pulled: ${estimated ? 'about ' : ''}${records(beyond.records)} more${where}`);
  return {
    status: 'missing',
    badge: `${count(missingRecords)} missing`,
    notYetPulled,
    estimated,
    text: `${parts.join('; ')}${dupText}`,
  };
}
