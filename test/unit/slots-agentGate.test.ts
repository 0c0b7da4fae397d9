import { describe, expect, it } from 'vitest';
import { judgeJournal } from '../../electron/deploy/slots/slotAgentGate.ts';

const before = { journalId: 'j-1', lastSeq: 120, records: 100 };

describe('the slot journal gate', () => {
  it('passes the same journal at or beyond its seq before the update, even with fewer records (pruned)', () => {
    expect(judgeJournal(before, before)).toBeNull();
    expect(judgeJournal(before, { journalId: 'j-1', lastSeq: 130, records: 60 })).toBeNull();
  });

  it('fails another journal, one that went backwards, or none', () => {
    expect(judgeJournal(before, { journalId: 'j-2', lastSeq: 500, records: 500 })).toMatch(/another journal \(j-2, was j-1\)/);
    expect(judgeJournal(before, { journalId: 'j-1', lastSeq: 119, records: 100 })).toMatch(/ends at seq 119, before the update it reached 120/);
    expect(judgeJournal(before, null)).toMatch(/no journal/);
  });

  it('without a baseline (the agent did not answer before), any journal passes, none fails', () => {
    expect(judgeJournal(null, { journalId: 'j-9', lastSeq: 0, records: 0 })).toBeNull();
    expect(judgeJournal(null, null)).toMatch(/no journal/);
  });
});
