/**
 * The one place a request from any carrier (IPC, WebSocket, CLI) becomes a call: check
 * the method exists, validate params against the contract, run the handler, and turn
 * whatever happens into a Result. Nothing thrown crosses a boundary.
 */
import { parseRequest, type MethodName, type ParsedRequestOf, type ResponseOf } from '../../../shared/api.ts';
import { appError, isFieldkitError, type AppError, type Result } from '../../../shared/errors.ts';

export type ApiHandlers = {
  [M in MethodName]: (params: ParsedRequestOf<M>) => Promise<ResponseOf<M>>;
};

/** Calls `method` with untrusted `params`; always resolves, never rejects. */
export async function dispatch(handlers: ApiHandlers, method: unknown, params: unknown): Promise<Result<unknown>> {
  const request = parseRequest(method, params);
  if (!request.ok) return request;
  const handler = handlers[request.value.method] as (p: unknown) => Promise<unknown>;
  try {
    return { ok: true, value: await handler(request.value.params) };
  } catch (error) {
    return { ok: false, error: toAppError(error) };
  }
}

/** Any thrown value as an AppError; unknown failures become INTERNAL with advice. */
export function toAppError(error: unknown): AppError {
  // Through appError again: an error built as a literal gets the same tidy sentences.
  if (isFieldkitError(error)) {
    const { code, message, hint, field } = error.appError;
    return appError(code, message, hint, field);
  }
  const message = error instanceof Error ? error.message : String(error);
  return appError(
    'INTERNAL',
    `Unexpected error: ${message}`,
    'This is a bug in fieldkit. Try again; if it repeats, send the log from Settings to the fieldkit team.',
  );
}
