/**
 * A journal.read item as the records batch a test asked for (no `encoding: 'lines'`):
 * a lines batch here means the agent sent what was not asked for.
 */
import type { JournalBatch, JournalLinesBatch } from '../../shared/journal.ts';

export function recordsBatch(item: JournalBatch | JournalLinesBatch): JournalBatch {
  if (!('records' in item)) throw new Error(`journal.read sent a lines batch (count ${item.count}) to a reader that asked for records`);
  return item;
}

/** The records batches of a stream, as recordsBatch. */
export async function* recordsBatches(stream: AsyncIterable<JournalBatch | JournalLinesBatch>): AsyncGenerator<JournalBatch> {
  for await (const item of stream) yield recordsBatch(item);
}
