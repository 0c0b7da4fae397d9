/** The words the Courier screen uses for counts, seq ranges and why records are missing. */
import type { MissingRange, MissingReason } from '../../../shared/courier.ts';

/** 1350 → "1,350". */
export function count(n: number): string {
  return n.toLocaleString('en-US');
}

/** "1 record", "1,350 records". */
export function records(n: number): string {
  return `${count(n)} record${n === 1 ? '' : 's'}`;
}

/** "seq 1,200–1,350" or "seq 7". */
export function seqSpan(from: number, to: number): string {
  return from === to ? `seq ${count(from)}` : `seq ${count(from)}–${count(to)}`;
}

const reasonLabels: Record<MissingReason, string> = {
  lost_on_device: 'lost on device',
  not_yet_pulled: 'not yet pulled',
  not_yet_forwarded: 'not yet forwarded',
  quarantined: 'quarantined: refused by ClickHouse',
  discarded: 'discarded',
  held_by_other_courier: 'held by another courier',
  unknown: 'unknown',
};

/** "lost on device: retention", "not yet pulled", "not yet forwarded: confirmed by ClickHouse once, gone from it since …". */
export function reasonText(range: Pick<MissingRange, 'reason' | 'detail'>): string {
  const label = reasonLabels[range.reason];
  return range.detail === '' ? label : `${label}: ${range.detail}`;
}

/** What the technician can do about each reason. */
export const reasonAdvice: Record<MissingReason, string> = {
  lost_on_device: 'The device dropped these before any courier took them; the loss is recorded, nothing more to do.',
  not_yet_pulled: 'Still on the device: pull it.',
  not_yet_forwarded: 'Held on this laptop: Forward all.',
  quarantined: 'See Quarantine below: retry once the table is fixed, or discard with a reason.',
  discarded: 'Discarded by a technician; the reason is kept.',
  held_by_other_courier: 'Another laptop or the device’s own uplink carried these.',
  unknown: 'Not explained by anything this laptop knows: check the ClickHouse table (TTL, deletes, another table).',
};

/** Tone of a reason in the reconcile list: expected gaps are calm, unexplained ones are not. */
export function reasonTone(reason: MissingReason): 'info' | 'warn' | 'danger' {
  switch (reason) {
    case 'not_yet_pulled':
    case 'not_yet_forwarded':
    case 'held_by_other_courier':
      return 'info';
    case 'lost_on_device':
    case 'quarantined':
    case 'discarded':
      return 'warn';
    case 'unknown':
      return 'danger';
  }
}
