import { describe, expect, it } from 'vitest';
import { methodNames, methods, parseRequest } from '../../shared/api.ts';
import { dispatch, type ApiHandlers } from '../../electron/kernel/api/dispatch.ts';
import { appError, FieldkitError } from '../../shared/errors.ts';

describe('parseRequest', () => {
  it('refuses a method that is not in the contract, listing the real ones', () => {
    const result = parseRequest('drives.format', {});
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error.code).toBe('METHOD_NOT_FOUND');
    expect(result.error.hint).toContain('drives.list');
  });

  it('names the field of a wrongly typed parameter', () => {
    const result = parseRequest('drives.list', { imageSizeBytes: 'big' });
    expect(result).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST', field: 'imageSizeBytes' } });
    if (!result.ok) expect(result.error.message).toContain("field 'imageSizeBytes'");
  });

  it('names an unexpected field instead of ignoring it', () => {
    const result = parseRequest('jobs.list', { limit: 5, sort: 'asc' });
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error.message).toContain('sort');
  });

  it('treats absent params as an empty request', () => {
    expect(parseRequest('app.info', undefined)).toEqual({ ok: true, value: { method: 'app.info', params: {} } });
  });

  it.each(methodNames)('%s refuses a non-object request', (method) => {
    const result = parseRequest(method, 42);
    expect(result).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST' } });
  });

  it('gives every method a one-line summary for help and docs', () => {
    for (const name of methodNames) expect(methods[name].summary.length).toBeGreaterThan(10);
  });
});

describe('dispatch', () => {
  const handlers = {
    'app.info': () => Promise.reject(new FieldkitError(appError('UNAVAILABLE', 'down', 'wait'))),
    'drives.list': () => Promise.reject(new Error('boom')),
  } as unknown as ApiHandlers;

  it('turns a FieldkitError into its AppError', async () => {
    expect(await dispatch(handlers, 'app.info', {})).toEqual({ ok: false, error: { code: 'UNAVAILABLE', message: 'down', hint: 'wait' } });
  });

  it('turns any other throw into INTERNAL with advice, never a rejection', async () => {
    const result = await dispatch(handlers, 'drives.list', {});
    expect(result).toMatchObject({ ok: false, error: { code: 'INTERNAL' } });
    if (!result.ok) expect(result.error.message).toContain('boom');
  });

  it('validates before calling the handler', async () => {
    const result = await dispatch(handlers, 'jobs.get', { jobId: '../../etc/passwd' });
    expect(result).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST', field: 'jobId' } });
  });
});
