/** How the RPC server turns bad requests and failed work into AppErrors (data, never a crash). */
import type { z } from 'zod';
import { appError, fieldPath, isFieldkitError, type AppError } from '../../shared/errors.ts';

const contractHint = 'Check the request against the agent RPC contract (shared/agentRpc.ts). If the app and the agent are different versions, update the agent (hello reports its version).';

/** BAD_REQUEST naming the first offending field, under `prefix` (`params`, or '' for the envelope). */
export function badRequest(what: string, error: z.ZodError, prefix: string): AppError {
  const issue = error.issues[0];
  const path = issue ? fieldPath(issue.path) : '';
  const field = [prefix, path].filter((p) => p !== '').join('.');
  const detail = issue ? issue.message : 'invalid value';
  return appError('BAD_REQUEST', field === '' ? `${what}: ${detail}` : `${what}: field '${field}': ${detail}`, contractHint, field === '' ? undefined : field);
}

export function methodNotFound(method: string, known: readonly string[]): AppError {
  return appError('METHOD_NOT_FOUND', `This agent has no RPC method '${method}'.`, `It knows: ${known.join(', ')}. An older agent may lack newer methods: update it.`, 'method');
}

function errnoOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** Whatever a handler threw, as the AppError the laptop sees. */
export function errorFromThrown(method: string, error: unknown): AppError {
  if (isFieldkitError(error)) return error.appError;
  const message = error instanceof Error ? error.message : String(error);
  const errno = errnoOf(error);
  if (errno === 'ENOSPC' || errno === 'EIO' || errno === 'EROFS') {
    return appError('IO_ERROR', `${method} failed on the device's storage: ${message}`, 'Free space on the data partition or check the storage for errors, then try again.');
  }
  if (errno === 'EACCES' || errno === 'EPERM') {
    return appError('PERMISSION_DENIED', `${method} was refused by the device: ${message}`, 'Check that the agent runs as the user that owns its data dir and config.');
  }
  return appError('INTERNAL', `${method} failed in the agent: ${message}`, 'This is an agent bug: keep the agent log (stderr of `fieldkit-agent rpc`) and report it.');
}
