/**
 * Group commit: batches from concurrent producers (HTTP requests, MQTT messages) that
 * arrive while the journal is busy share one transaction and one fsync. Each batch keeps
 * its own all-or-nothing meaning and its own seq range, and its promise settles only
 * after the commit that holds it.
 *
 * The journal is synchronous, so while one commit runs the event loop is blocked and new
 * requests pile up in the sockets; the next turn of the loop reads them all and the flush
 * (scheduled with setImmediate, after I/O) takes them as one group.
 */
import type { IngestEvent } from '../../shared/journal.ts';
import type { AppendResult, Journal } from '../journal/journalApi.ts';
import { JournalFullError } from '../journal/journalErrors.ts';

export type GroupCommitter = {
  /** Resolves once `events` are durable; rejects with the journal's error if they are not. */
  submit(events: readonly IngestEvent[]): Promise<AppendResult>;
  /** Batches waiting for their commit. */
  readonly waiting: number;
  /** Resolves when everything submitted so far has been committed or refused. */
  drain(): Promise<void>;
};

type Waiting = { events: readonly IngestEvent[]; resolve(result: AppendResult): void; reject(error: unknown): void };

export type GroupCommitOptions = {
  /** Cap on events per transaction, so one commit never holds the loop for long. */
  maxEventsPerCommit?: number;
  now?: () => number;
  /** Called after each commit (metrics). */
  onCommit?: (events: number, batches: number, durationMs: number) => void;
};

export function createGroupCommitter(journal: Journal, options: GroupCommitOptions = {}): GroupCommitter {
  const maxEvents = options.maxEventsPerCommit ?? 50_000;
  const now = options.now ?? Date.now;
  const queue: Waiting[] = [];
  let scheduled = false;
  let drained: (() => void)[] = [];

  function takeGroup(): Waiting[] {
    let events = 0;
    let n = 0;
    while (n < queue.length) {
      const size = queue[n]?.events.length ?? 0;
      if (n > 0 && events + size > maxEvents) break;
      events += size;
      n++;
    }
    return queue.splice(0, n);
  }

  function commit(group: readonly Waiting[]): void {
    const started = performance.now();
    try {
      const results = journal.appendBatches(group.map((w) => w.events), now());
      group.forEach((w, i) => {
        const result = results[i];
        if (result === undefined) w.reject(new Error('journal returned fewer results than batches'));
        else w.resolve(result);
      });
      options.onCommit?.(group.reduce((s, w) => s + w.events.length, 0), group.length, performance.now() - started);
    } catch (error) {
      // A full journal may still take some of the group: retry each batch alone so one
      // producer's large batch does not refuse everyone else's.
      if (error instanceof JournalFullError && group.length > 1) {
        for (const w of group) commit([w]);
        return;
      }
      for (const w of group) w.reject(error);
    }
  }

  function flush(): void {
    scheduled = false;
    while (queue.length > 0) commit(takeGroup());
    const waiters = drained;
    drained = [];
    for (const resolve of waiters) resolve();
  }

  return {
    submit(events) {
      return new Promise<AppendResult>((resolve, reject) => {
        queue.push({ events, resolve, reject });
        if (!scheduled) {
          scheduled = true;
          setImmediate(flush);
        }
      });
    },
    get waiting() {
      return queue.length;
    },
    drain() {
      if (queue.length === 0) return Promise.resolve();
      return new Promise<void>((resolve) => drained.push(resolve));
    },
  };
}
