/**
 * Typed reads of the journal's rows. node:sqlite hands back loosely typed values; a value
 * that is not what the schema promises means a damaged or foreign file, so it is refused
 * here, where the row leaves SQLite, instead of being cast and carried on.
 */
import type { Priority } from '../../shared/journal.ts';

export type Row = Record<string, unknown>;

export function text(row: Row, key: string): string {
  const value = row[key];
  if (typeof value !== 'string') throw new Error(`journal meta.${key} is not text`);
  return value;
}

export function int(row: Row, key: string): number {
  const value = row[key];
  if (typeof value !== 'number') throw new Error(`journal meta.${key} is not a number`);
  return value;
}

export function asPriority(value: unknown): Priority {
  if (value === 1 || value === 2 || value === 3) return value;
  throw new Error(`journal row has priority ${String(value)}`);
}

/** The text of anything thrown, for an error message that says what SQLite said. */
export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
