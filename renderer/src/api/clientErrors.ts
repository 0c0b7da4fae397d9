/** Errors the renderer itself produces, in the same AppError shape the services use. */
import { appError, fieldPath, type AppError } from '../../../shared/errors.ts';
import type { z } from 'zod';

/** The connection to fieldkit dropped or is not up; the caller may try again later. */
export function connectionLostError(method: string): AppError {
  return appError(
    'UNAVAILABLE',
    `Lost the connection to fieldkit before ${method} finished.`,
    'The window reconnects by itself; try again when the "reconnecting" banner is gone. If it stays, check that “fieldkit serve” is still running.',
  );
}

/** No answer in time: the service is stuck or the message was lost. */
export function callTimedOutError(method: string, seconds: number): AppError {
  return appError(
    'UNAVAILABLE',
    `fieldkit did not answer ${method} within ${seconds} s.`,
    'Try again. If it keeps happening, restart fieldkit and send its log to the fieldkit team.',
  );
}

/** The carrier answered with something that is not what the contract promises. */
export function malformedResponseError(method: string, error: z.ZodError): AppError {
  const issue = error.issues[0];
  const where = issue && issue.path.length > 0 ? ` (field '${fieldPath(issue.path)}': ${issue.message})` : '';
  return appError(
    'INTERNAL',
    `fieldkit answered ${method} with data this window does not understand${where}.`,
    'This window and the fieldkit service may be different versions: reload the window. If it repeats, report it to the fieldkit team.',
  );
}

/** The carrier itself threw (Electron's bridge should never; this keeps it from crashing a screen). */
export function carrierThrewError(method: string, thrown: unknown): AppError {
  const detail = thrown instanceof Error ? thrown.message : String(thrown);
  return appError(
    'INTERNAL',
    `Calling ${method} failed inside the window: ${detail}.`,
    'Reload the window. If it repeats, report it to the fieldkit team with this message.',
  );
}

/** A call made while the link is down is not queued: the technician should see it failed. */
export function notConnectedError(method: string): AppError {
  return appError(
    'UNAVAILABLE',
    `Not connected to fieldkit, so ${method} was not sent.`,
    'Wait for the "reconnecting" banner to go away, then try again. If it stays, check that “fieldkit serve” is still running.',
  );
}
