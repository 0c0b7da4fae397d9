/**
 * Several processes opening a journal that does not exist yet, at the same moment — what
 * happens on a first install when the laptop's `rpc` process starts while the daemon
 * creates the database. Every one of them must open it (none may fail "database is
 * locked"), they must agree on one identity, and every append must land.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openJournal } from '../../agent/journal/openJournal.ts';
import { makeTempDir } from '../support/tempDir.ts';

const dir = makeTempDir('fieldkit-journal-concurrent-');
const openJournalModule = path.join(import.meta.dirname, '..', '..', 'agent', 'journal', 'openJournal.ts');

afterAll(() => { dir.remove(); });

/** One process: open (creating if needed), append one event, print the journal id. */
function opener(journalPath: string, n: number): Promise<{ code: number | null; out: string }> {
  const script = `
    const { openJournal } = await import(${JSON.stringify(openJournalModule)});
    const j = openJournal({ path: ${JSON.stringify(journalPath)}, deviceId: 'pi-race', budgetBytes: 1 << 24 });
    j.append([{ priority: 2, kind: 'race', payload: { n: ${String(n)} } }], Date.now());
    console.log(j.info().journal_id);
    j.close();`;
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--no-warnings', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    child.on('close', (code) => { resolve({ code, out: out.trim() }); });
  });
}

describe('opening a new journal from several processes at once', () => {
  it('every process opens it, one identity, every append kept (8 rounds of 6 processes)', async () => {
    for (let round = 0; round < 8; round++) {
      const journalPath = path.join(dir.path, `round-${String(round)}`, 'journal.db');
      const results = await Promise.all(Array.from({ length: 6 }, (_, i) => opener(journalPath, i)));
      for (const r of results) expect(r.code, r.out).toBe(0);
      expect(new Set(results.map((r) => r.out)).size).toBe(1);
      const journal = openJournal({ path: journalPath, deviceId: 'pi-race', budgetBytes: 1 << 24 });
      try {
        expect(journal.info().journal_id).toBe(results[0]?.out);
        expect(journal.read({ after_seq: 0, limit: 100, max_bytes: 1 << 20 }).map((r) => r.seq)).toEqual([1, 2, 3, 4, 5, 6]);
      } finally {
        journal.close();
      }
    }
  }, 60_000);
});
