/** JSON answers of the ingest HTTP server: errors are `{error: {code, message, hint, field?, line?}}`. */
import type { ServerResponse } from 'node:http';
import type { AppError } from '../../shared/errors.ts';

export type ErrorBody = AppError & { line?: number };

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

export function sendError(res: ServerResponse, status: number, error: ErrorBody, headers: Record<string, string> = {}): void {
  sendJson(res, status, { error }, headers);
}
