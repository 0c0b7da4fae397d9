/**
 * How every command reads its arguments, so the same mistake gets the same answer
 * everywhere: a number is checked against the bound the API contract itself enforces, and
 * a wrong argument is a `UsageError` (exit 2, the message once, then the command's usage),
 * never a contract message from the dispatcher. (A device argument is resolved by the
 * devices domain: `resolveDevice` in devices/index.ts.)
 */
import { InvalidArgumentError } from 'commander';
import type { z } from 'zod';
import { methods, type MethodName } from '../../../shared/api.ts';
import { appError, type AppError } from '../../../shared/errors.ts';

/** The command line was wrong: said once, with the usage of the command, exit 2. */
export class UsageError extends Error {
  readonly appError: AppError;
  constructor(error: AppError) {
    super(error.message);
    this.appError = error;
  }
}

type NumberBounds = { min: number | null; max: number | null; int: boolean };

/** The bounds a contract field's number schema enforces (through .default/.optional). */
function boundsOf(schema: z.ZodType): NumberBounds {
  let inner: unknown = schema;
  for (let i = 0; i < 4 && typeof inner === 'object' && inner !== null && 'unwrap' in inner && typeof inner.unwrap === 'function'; i++) inner = (inner as { unwrap(): unknown }).unwrap();
  const n = inner as { minValue?: number | null; maxValue?: number | null; isInt?: boolean };
  const finite = (v: number | null | undefined): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
  return { min: finite(n.minValue), max: finite(n.maxValue), int: n.isInt === true };
}

/**
 * A parser for an option that carries the number `field` of `method`: refuses at the
 * command line (exit 2) exactly what the API would refuse, in words ("a whole number from
 * 1 to 10000").
 */
export function contractNumber(method: MethodName, field: string): (value: string) => number {
  const shape = (methods[method].request as unknown as { shape: Record<string, z.ZodType> }).shape;
  const schema = shape[field];
  if (schema === undefined) throw new Error(`${method} has no field ${field}`);
  const { min, max, int } = boundsOf(schema);
  const range = min !== null && max !== null ? ` from ${String(min)} to ${String(max)}` : min !== null ? ` of at least ${String(min)}` : max !== null ? ` of at most ${String(max)}` : '';
  const expected = `expected ${int ? 'a whole number' : 'a number'}${range}.`;
  return (value) => {
    const n = Number(value);
    const ok = value.trim() !== '' && (int ? Number.isSafeInteger(n) : Number.isFinite(n)) && (min === null || n >= min) && (max === null || n <= max);
    if (!ok) throw new InvalidArgumentError(expected);
    return n;
  };
}

/** A kebab-case option for a camelCase contract field: maxRanges → --max-ranges. */
function optionFor(field: string): string {
  return `--${field.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

/**
 * The usage error for a request the contract refuses: reached only when a command forgot
 * to check an argument, and then still worded for the command line, not the API.
 */
export function usageErrorFromContract(method: MethodName, params: unknown): UsageError | null {
  const parsed = methods[method].request.safeParse(params ?? {});
  if (parsed.success) return null;
  const issue = parsed.error.issues[0];
  const field = issue?.path.map(String).join('.') ?? '';
  const [top] = field.split('.');
  const subject = top === undefined || top === '' ? 'The command line' : ['id', 'deviceId', 'jobId', 'rolloutId', 'ids'].includes(top) ? `The ${top === 'ids' ? 'ids' : 'argument'} given` : optionFor(top);
  return new UsageError(appError('BAD_REQUEST', `${subject} is not accepted: ${issue?.message ?? 'not valid'}.`, 'See the usage below, or add --help.', field));
}
