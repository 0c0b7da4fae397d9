/**
 * One progress line for a backup whose device × class items run side by side: the bytes
 * read from every device so far (the sum over items), the total from each streamed item's
 * previous good snapshot (unknown while any has none; an item found unchanged drops out of
 * it), and a phase naming what is streaming now.
 */
import type { JobContext } from '../kernel/jobs/jobContext.ts';

export type BackupProgress = {
  /** An item starts streaming (its estimate was given at creation). */
  start(key: string, label: string): void;
  bytes(key: string, bytesRead: number): void;
  /** An item ended (streamed, unchanged, failed): its bytes stay counted, its label goes. */
  finish(key: string): void;
  /** An item that will not stream after all (unchanged): its estimate leaves the total. */
  drop(key: string): void;
};

export function createBackupProgress(ctx: JobContext, estimates: ReadonlyMap<string, number | null>): BackupProgress {
  const expected = new Map(estimates);
  const items = estimates.size;
  const read = new Map<string, number>();
  const running = new Map<string, string>();
  let finished = 0;
  const report = () => {
    const all = [...expected.values()];
    const total = all.every((e) => e !== null) ? all.reduce((n, e) => n + e, 0) : null;
    const done = [...read.values()].reduce((n, b) => n + b, 0);
    const names = [...running.values()];
    const phase = names.length === 0 ? `${String(finished)} of ${String(items)} done` : `${names.join(', ')} (${String(finished)} of ${String(items)} done)`;
    ctx.progress({ phase, bytesDone: done, bytesTotal: total === null ? null : Math.max(total, done), unit: 'bytes' });
  };
  return {
    start(key, label) {
      running.set(key, label);
      read.set(key, 0);
      report();
    },
    bytes(key, bytesRead) {
      read.set(key, bytesRead);
      report();
    },
    finish(key) {
      running.delete(key);
      finished++;
      report();
    },
    drop(key) {
      expected.delete(key);
      report();
    },
  };
}
