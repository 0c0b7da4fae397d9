/**
 * Errors that cross a process or machine boundary travel as data, never as thrown
 * objects: a code a program can branch on, a message that says what happened, and a
 * hint that says what the technician can do about it.
 */
import { z } from 'zod';

export const ErrorCodeSchema = z.enum([
  'BAD_REQUEST',
  'METHOD_NOT_FOUND',
  'UNAUTHORIZED',
  'NOT_FOUND',
  'CONFLICT',
  'UNAVAILABLE',
  'TIMEOUT',
  'AUTH_FAILED',
  'HOST_KEY_UNTRUSTED',
  'HOST_KEY_CHANGED',
  'PERMISSION_DENIED',
  /** A signature, checksum or size did not match: the data was altered or signed by another key. */
  'VERIFICATION_FAILED',
  'IO_ERROR',
  'CANCELLED',
  'WORKER_DIED',
  'INTERRUPTED',
  /** A rollout stopped because a batch failed on more devices than allowed. */
  'ROLLOUT_STOPPED',
  'INTERNAL',
]);
export type ErrorCode = z.infer<typeof ErrorCodeSchema>;

export const AppErrorSchema = z.object({
  code: ErrorCodeSchema,
  message: z.string(),
  hint: z.string(),
  /** The request field at fault, for BAD_REQUEST (dotted path such as `params.device`). */
  field: z.string().optional(),
});
export type AppError = z.infer<typeof AppErrorSchema>;

export type Ok<T> = { ok: true; value: T };
export type Failure = { ok: false; error: AppError };
export type Result<T> = Ok<T> | Failure;

/** Wraps a value as a successful result. */
export function ok<T>(value: T): Ok<T> {
  return { ok: true, value };
}

/** Wraps an error as a failed result. */
export function fail(error: AppError): Failure {
  return { ok: false, error };
}

/**
 * One full stop at the end of a sentence, never "..": messages are built from parts
 * ("Cannot read X: ${cause.message}.") whose last part often ends a sentence already, and
 * "?." / "!." read as badly. An ellipsis ("...", "…") is left alone.
 */
export function tidySentence(text: string): string {
  return text.replace(/(?<!\.)([.!?])\.(?!\.)/g, '$1');
}

/** Builds an AppError; the hint is required so no error leaves without advice. */
export function appError(code: ErrorCode, message: string, hint: string, field?: string): AppError {
  const tidy = { code, message: tidySentence(message), hint: tidySentence(hint) };
  return field === undefined ? tidy : { ...tidy, field };
}

/** Schema of a result carrying `value`, for validating responses at a boundary. */
export function resultSchema<T extends z.ZodType>(value: T) {
  return z.discriminatedUnion('ok', [
    z.object({ ok: z.literal(true), value }),
    z.object({ ok: z.literal(false), error: AppErrorSchema }),
  ]);
}

/**
 * Thrown inside laptop-side services to fail with a specific code; the dispatcher turns
 * it into a Failure. Anything else thrown becomes INTERNAL.
 */
export class FieldkitError extends Error {
  readonly appError: AppError;
  constructor(error: AppError, options?: { cause?: unknown }) {
    super(error.message, options);
    this.name = 'FieldkitError';
    this.appError = error;
  }
}

/** Type guard for FieldkitError that also works across bundle copies of this module. */
export function isFieldkitError(value: unknown): value is FieldkitError {
  return (
    value instanceof Error &&
    value.name === 'FieldkitError' &&
    AppErrorSchema.safeParse((value as { appError?: unknown }).appError).success
  );
}

/** Formats a zod issue path as a dotted field name (`drives.0.size`). */
export function fieldPath(path: ReadonlyArray<PropertyKey>): string {
  return path.map((p) => String(p)).join('.');
}

/** Turns a zod error into one BAD_REQUEST naming the first offending field. */
export function badRequestFromZod(where: string, error: z.ZodError): AppError {
  const issue = error.issues[0];
  const field = issue ? fieldPath(issue.path) : '';
  const detail = issue ? issue.message : 'invalid value';
  const named = field === '' ? where : `${where}: field '${field}'`;
  return appError(
    'BAD_REQUEST',
    `${named}: ${detail}`,
    'Check the request against the fieldkit API contract (shared/api.ts) and send it again.',
    field === '' ? undefined : field,
  );
}
