/** What the agent RPC client says when something goes wrong, in the technician's words. */
import type { z } from 'zod';
import { appError, fieldPath, type AppError } from '../../../shared/errors.ts';

export function unavailable(message: string): AppError {
  return appError('UNAVAILABLE', message, 'Check the connection to the Pi (cable, network, SSH) and reconnect. A request in flight may or may not have been applied on the device.');
}

export function lostOnLink(method: string, detail: string): AppError {
  return appError(
    'IO_ERROR',
    `${method}: ${detail}: a frame was lost on the link (damaged by noise).`,
    'Nothing after the gap was accepted. Pull again from the last stored seq; on a serial console, check the cable and that nothing else writes to the tty.',
  );
}

export function invalidFromAgent(what: string, error: z.ZodError): AppError {
  const issue = error.issues[0];
  const field = issue ? fieldPath(issue.path) : '';
  return appError(
    'INTERNAL',
    `The agent sent an invalid ${what}${field === '' ? '' : ` (field '${field}')`}: ${issue?.message ?? 'invalid value'}.`,
    'The app and the agent speak different versions of the RPC: update the agent on this Pi.',
    field === '' ? undefined : field,
  );
}

export function badParams(method: string, error: z.ZodError): AppError {
  const issue = error.issues[0];
  const path = issue ? fieldPath(issue.path) : '';
  const field = path === '' ? 'params' : `params.${path}`;
  return appError('BAD_REQUEST', `${method}: field '${field}': ${issue?.message ?? 'invalid value'}`, 'Check the request against shared/agentRpc.ts.', field);
}
