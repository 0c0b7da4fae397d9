import { describe, expect, it } from 'vitest';
import { messageToEvent, subscriptionFor, topicMatches } from '../../agent/ingest/mqttMessage.ts';

const sub = { topic: 'sensors/+/temp', kind: 'temperature', priority: 3 as const };
const bytes = (text: string) => Buffer.from(text);

describe('MQTT messages to events', () => {
  it('matches topic filters like a broker', () => {
    expect(topicMatches('sensors/+/temp', 'sensors/a/temp')).toBe(true);
    expect(topicMatches('sensors/+/temp', 'sensors/a/b/temp')).toBe(false);
    expect(topicMatches('safety/#', 'safety')).toBe(true);
    expect(topicMatches('safety/#', 'safety/estop/1')).toBe(true);
    expect(topicMatches('#', '$SYS/broker')).toBe(false);
    expect(topicMatches('a/b', 'a/b/c')).toBe(false);
    expect(subscriptionFor([sub, { topic: '#', kind: 'other', priority: 2 }], 'x/y')?.kind).toBe('other');
  });

  it('takes an envelope apart, and any other JSON whole as the payload', () => {
    expect(messageToEvent(bytes('{"payload":{"c":21.5},"ts_ms":1750000000000,"model_version":"m1"}'), sub, 1000)).toEqual({
      ok: true,
      event: { payload: { c: 21.5 }, ts_ms: 1750000000000, model_version: 'm1', kind: 'temperature', priority: 3 },
    });
    expect(messageToEvent(bytes('{"c":21.5,"payload":1}'), sub, 1000)).toMatchObject({ ok: true, event: { payload: { c: 21.5, payload: 1 } } });
    expect(messageToEvent(bytes('42'), sub, 1000)).toMatchObject({ ok: true, event: { payload: 42 } });
  });

  it('says why a message cannot be an event', () => {
    expect(messageToEvent(bytes('hello'), sub, 1000)).toMatchObject({ ok: false, reason: 'invalid_json' });
    expect(messageToEvent(bytes('{"payload":1,"ts_ms":"noon"}'), sub, 1000)).toMatchObject({ ok: false, reason: 'invalid_event', message: expect.stringContaining('ts_ms') as unknown });
    expect(messageToEvent(bytes('"xxxxxxxxxx"'), sub, 5)).toMatchObject({ ok: false, reason: 'too_large' });
  });

  it('refuses a body nested past the limit instead of overflowing the stack', () => {
    const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
    expect(messageToEvent(bytes(deep), sub, 1 << 20)).toMatchObject({ ok: false, reason: 'invalid_event', message: expect.stringContaining('more than 64 levels deep') as unknown });
    expect(messageToEvent(bytes(`{"payload":${'['.repeat(40)}${']'.repeat(40)}}`), sub, 1 << 20)).toMatchObject({ ok: true });
  });
});
