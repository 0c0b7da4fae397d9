import { describe, expect, it } from 'vitest';
import { createProgressThrottle } from '../../electron/kernel/jobs/progressThrottle.ts';

/** A throttle over a clock the test moves; `next()` resolves with the next value sent. */
function throttled(options: { keepsApart?: (kept: string, next: string) => boolean } = {}) {
  const clock = { ms: 1000 };
  const sent: string[] = [];
  let waiter: ((value: string) => void) | null = null;
  const throttle = createProgressThrottle(
    (value: string) => {
      sent.push(value);
      waiter?.(value);
      waiter = null;
    },
    { intervalMs: 50, now: () => clock.ms, ...options },
  );
  const next = () =>
    new Promise<string>((resolve) => {
      waiter = resolve;
    });
  return { clock, sent, throttle, next };
}

describe('progress throttle', () => {
  it('sends the first value at once, keeps the ones within the interval, and sends the latest when it ends', async () => {
    const { clock, sent, throttle, next } = throttled();
    throttle.offer('a');
    expect(sent).toEqual(['a']);
    clock.ms += 10;
    const flushed = next();
    throttle.offer('b');
    throttle.offer('c');
    expect(sent).toEqual(['a']);
    expect(await flushed).toBe('c');
    expect(sent).toEqual(['a', 'c']);
  });

  it('sends an urgent value at once, and once the interval has passed any value', () => {
    const { clock, sent, throttle } = throttled();
    throttle.offer('a');
    clock.ms += 1;
    throttle.offer('b', true);
    clock.ms += 50;
    throttle.offer('c');
    expect(sent).toEqual(['a', 'b', 'c']);
    throttle.cancel();
  });

  it('never replaces a kept value unseen when keepsApart says so', () => {
    const { clock, sent, throttle } = throttled({ keepsApart: (kept, next) => kept[0] !== next[0] });
    throttle.offer('checking 0');
    clock.ms += 1;
    throttle.offer('checking 9');
    throttle.offer('writing 1');
    expect(sent).toEqual(['checking 0', 'checking 9']);
    throttle.flush();
    expect(sent).toEqual(['checking 0', 'checking 9', 'writing 1']);
  });

  it('flush sends the kept value; cancel drops it', () => {
    const { clock, sent, throttle } = throttled();
    throttle.offer('a');
    clock.ms += 1;
    throttle.offer('b');
    throttle.cancel();
    throttle.flush();
    expect(sent).toEqual(['a']);
  });
});
