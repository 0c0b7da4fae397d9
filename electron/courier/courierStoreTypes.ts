/** The shapes the courier store (courierStore.ts) hands out: a journal's custody state, a run of held seqs. */
export type JournalState = {
  device_id: string;
  journal_id: string;
  device_ref: string | null;
  site: string;
  contiguous_seq: number;
  agent_last_seq: number;
  agent_first_seq: number;
  custody_acked_seq: number;
  forwarded_reported_seq: number;
  last_pull_ms: number;
  last_clock_offset_ms: number | null;
};

/** A run of held seqs of one state, as reconcile explains a gap with it. */
export type HeldRun = { from: number; to: number; state: 'pending' | 'forwarded' | 'quarantined' | 'discarded' };
