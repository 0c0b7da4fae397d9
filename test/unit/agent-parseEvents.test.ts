import { describe, expect, it } from 'vitest';
import { parseEvents } from '../../agent/ingest/parseEvents.ts';

const limits = { maxEventBytes: 200, maxBatchEvents: 3 };
const body = (text: string) => Buffer.from(text, 'utf8');

describe('parseEvents', () => {
  it('reads one JSON event, or NDJSON lines skipping blank ones', () => {
    expect(parseEvents(body('{"priority":1,"kind":"k","payload":{"a":1}}'), 'json', limits)).toEqual({ ok: true, events: [{ priority: 1, kind: 'k', payload: { a: 1 } }] });
    const batch = parseEvents(body('\n{"priority":2,"kind":"k","payload":1}\r\n \t\n{"priority":3,"kind":"k","payload":null,"ts_ms":5,"model_version":"m"}'), 'ndjson', limits);
    expect(batch).toEqual({ ok: true, events: [{ priority: 2, kind: 'k', payload: 1 }, { priority: 3, kind: 'k', payload: null, ts_ms: 5, model_version: 'm' }] });
  });

  it('names the physical line (blank lines counted) and the field', () => {
    const result = parseEvents(body('{"priority":2,"kind":"k","payload":1}\n\n{"priority":"high","kind":"k","payload":1}'), 'ndjson', limits);
    expect(result).toMatchObject({ ok: false, rejection: { status: 400, reason: 'invalid_event', line: 3, field: 'priority' } });
    expect(parseEvents(body('{"priority":1,"kind":"k","payload":1,"extra":2}'), 'json', limits)).toMatchObject({ ok: false, rejection: { line: 1, field: 'extra' } });
  });

  it('refuses invalid UTF-8 and invalid JSON as invalid_json', () => {
    const bad = Buffer.concat([body('{"priority":1,"kind":"k","payload":"'), Buffer.from([0xff, 0xfe]), body('"}')]);
    expect(parseEvents(bad, 'json', limits)).toMatchObject({ ok: false, rejection: { reason: 'invalid_json', status: 400 } });
    expect(parseEvents(body('{"priority":1,'), 'ndjson', limits)).toMatchObject({ ok: false, rejection: { reason: 'invalid_json', line: 1 } });
  });

  it('refuses oversized events and batches with 413, and an empty body with 400', () => {
    expect(parseEvents(body(`{"priority":1,"kind":"k","payload":"${'x'.repeat(300)}"}`), 'json', limits)).toMatchObject({ ok: false, rejection: { status: 413, reason: 'too_large', line: 1 } });
    const four = Array.from({ length: 4 }, () => '{"priority":1,"kind":"k","payload":1}').join('\n');
    expect(parseEvents(body(four), 'ndjson', limits)).toMatchObject({ ok: false, rejection: { status: 413, line: 4, message: expect.stringContaining('more than 3 events') as unknown } });
    expect(parseEvents(body('\n\n'), 'ndjson', limits)).toMatchObject({ ok: false, rejection: { status: 400 } });
  });

  it('refuses nesting past 64 levels before anything recursive sees it, counting only brackets outside strings', () => {
    const big = { maxEventBytes: 1 << 20, maxBatchEvents: 3 };
    const nested = (levels: number) => `{"priority":3,"kind":"k","payload":${'{"a":'.repeat(levels)}1${'}'.repeat(levels)}}`;
    expect(parseEvents(body(nested(63)), 'json', big)).toMatchObject({ ok: true });
    expect(parseEvents(body(nested(64)), 'json', big)).toMatchObject({ ok: false, rejection: { status: 400, reason: 'invalid_event', line: 1, message: expect.stringContaining('more than 64 levels deep') as unknown } });
    expect(parseEvents(body(`${nested(1)}\n${nested(100_000)}`), 'ndjson', big)).toMatchObject({ ok: false, rejection: { status: 400, line: 2 } });
    // Brackets and escaped quotes inside strings are text, not nesting.
    const stringy = JSON.stringify({ priority: 3, kind: 'k', payload: { s: `\\"${'['.repeat(200)}"\\`, t: '{'.repeat(200) } });
    expect(parseEvents(body(stringy), 'json', big)).toMatchObject({ ok: true });
  });
});
