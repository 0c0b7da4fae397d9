/**
 * Typed reads of the laptop store's rows. better-sqlite3 hands back untyped rows; a store
 * module reads each column it uses through a `RowReader`, so a column that does not hold
 * what the code expects fails here, naming the table and column, instead of travelling on
 * as a wrong type. One typeof per column and no allocation per row: cheap enough for a
 * forward's batch of 50,000 rows, where a zod parse per row would not be.
 */
import type { z } from 'zod';
import { appError, FieldkitError } from '../../../shared/errors.ts';

export type Row = Readonly<Record<string, unknown>>;

export type RowReader = {
  /** The row itself, refused if SQLite returned nothing (a query that always yields a row did not). */
  row(value: unknown): Row;
  /** The row, or null when the query matched nothing. */
  rowOrNull(value: unknown): Row | null;
  text(row: Row, column: string): string;
  textOrNull(row: Row, column: string): string | null;
  /** An INTEGER column (or an aggregate such as count(*)). */
  int(row: Row, column: string): number;
  intOrNull(row: Row, column: string): number | null;
  /** A value from a fixed set (a CHECK constraint, or a state the store module writes). */
  oneOf<T extends string>(row: Row, column: string, allowed: readonly T[]): T;
  /** A TEXT column holding JSON, checked against `schema`. */
  json<T>(row: Row, column: string, schema: z.ZodType<T>): T;
};

/** A reader for rows of `table` (or a query over it, named in errors). */
export function rowReader(table: string): RowReader {
  const damaged = (column: string, found: unknown, expected: string): FieldkitError =>
    new FieldkitError(
      appError(
        'INTERNAL',
        `The fieldkit store's ${table}${column === '' ? '' : `.${column}`} holds ${describe(found)}, not ${expected}.`,
        'The store may be damaged or was changed by another program. Copy fieldkit.db aside for a report, then start with a fresh data folder.',
      ),
    );
  const row = (value: unknown): Row => {
    if (!isRow(value)) throw damaged('', value, 'a row');
    return value;
  };
  const text = (r: Row, column: string): string => {
    const value = r[column];
    if (typeof value !== 'string') throw damaged(column, value, 'text');
    return value;
  };
  const int = (r: Row, column: string): number => {
    const value = r[column];
    if (typeof value !== 'number' || !Number.isInteger(value)) throw damaged(column, value, 'an integer');
    return value;
  };
  return {
    row,
    rowOrNull: (value) => (value === undefined ? null : row(value)),
    text,
    textOrNull: (r, column) => (r[column] === null ? null : text(r, column)),
    int,
    intOrNull: (r, column) => (r[column] === null ? null : int(r, column)),
    oneOf<T extends string>(r: Row, column: string, allowed: readonly T[]): T {
      const value = text(r, column);
      const found = allowed.find((a) => a === value);
      if (found === undefined) throw damaged(column, value, `one of ${allowed.join(', ')}`);
      return found;
    },
    json<T>(r: Row, column: string, schema: z.ZodType<T>): T {
      const value = text(r, column);
      let parsed: unknown;
      try {
        parsed = JSON.parse(value);
      } catch {
        throw damaged(column, value, 'JSON');
      }
      const checked = schema.safeParse(parsed);
      if (!checked.success) throw damaged(column, value, `what fieldkit writes there (${checked.error.issues[0]?.path.join('.') ?? ''}: ${checked.error.issues[0]?.message ?? ''})`);
      return checked.data;
    },
  };
}

function isRow(value: unknown): value is Row {
  return typeof value === 'object' && value !== null;
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'NULL';
  if (typeof value === 'string') return `the text ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  if (typeof value === 'number' || typeof value === 'bigint') return `the number ${String(value)}`;
  return `a ${typeof value}`;
}
