/**
 * The bound on parallel backups: never more than `limit` at once, every item run while none
 * fails, no new item after a failure (a cancel), the running ones awaited, the first
 * failure thrown.
 */
import { describe, expect, it } from 'vitest';
import { runBounded } from '../../electron/backup/runBounded.ts';

/** A task the test finishes by hand, so overlap is observed, not timed. */
function gate() {
  let open = (): void => undefined;
  const opened = new Promise<void>((resolve) => { open = resolve; });
  return { opened, open: () => { open(); } };
}

describe('runBounded', () => {
  it('runs at most `limit` at once and all of them', async () => {
    const gates = Array.from({ length: 7 }, gate);
    let running = 0;
    let most = 0;
    const ran: number[] = [];
    const all = runBounded([0, 1, 2, 3, 4, 5, 6], 3, async (i) => {
      running++;
      most = Math.max(most, running);
      ran.push(i);
      await gates[i]?.opened;
      running--;
    });
    await new Promise((resolve) => setImmediate(resolve));
    expect(ran).toEqual([0, 1, 2]);
    for (const g of gates) {
      g.open();
      await new Promise((resolve) => setImmediate(resolve));
    }
    await all;
    expect(ran.sort()).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(most).toBe(3);
  });

  it('starts nothing after a failure, waits for the running ones, throws the first failure', async () => {
    const slow = gate();
    let slowDone = false;
    const ran: number[] = [];
    const all = runBounded([0, 1, 2, 3], 2, async (i) => {
      ran.push(i);
      if (i === 0) {
        await slow.opened;
        slowDone = true;
        return;
      }
      throw new Error(`item ${String(i)} cancelled`);
    });
    await new Promise((resolve) => setImmediate(resolve));
    slow.open();
    await expect(all).rejects.toThrow('item 1 cancelled');
    expect(slowDone).toBe(true);
    expect(ran).toEqual([0, 1]);
  });
});
