import { describe, expect, it } from 'vitest';
import { ThrottlingSchema } from '../../shared/health.ts';
import { decodeThrottled, describeThrottling, isThrottledNow, parseGetThrottled } from '../../shared/throttling.ts';

const none = { under_voltage: false, arm_freq_capped: false, throttled: false, soft_temp_limit: false };

describe('vcgencmd get_throttled decoding (bits as the firmware documents them)', () => {
  it('reads 0x50005 as under-voltage and throttled, now and since boot', () => {
    const t = decodeThrottled(0x50005);
    expect(t).toEqual({
      raw: 0x50005,
      now: { ...none, under_voltage: true, throttled: true },
      since_boot: { ...none, under_voltage: true, throttled: true },
    });
    expect(ThrottlingSchema.parse(t)).toEqual(t);
  });

  it('maps each documented bit to exactly one flag', () => {
    const cases: [number, 'now' | 'since_boot', keyof typeof none][] = [
      [0, 'now', 'under_voltage'],
      [1, 'now', 'arm_freq_capped'],
      [2, 'now', 'throttled'],
      [3, 'now', 'soft_temp_limit'],
      [16, 'since_boot', 'under_voltage'],
      [17, 'since_boot', 'arm_freq_capped'],
      [18, 'since_boot', 'throttled'],
      [19, 'since_boot', 'soft_temp_limit'],
    ];
    for (const [bit, group, flag] of cases) {
      const t = decodeThrottled(2 ** bit);
      const expected = { now: { ...none }, since_boot: { ...none } };
      expected[group][flag] = true;
      expect({ now: t.now, since_boot: t.since_boot }, `bit ${bit}`).toEqual(expected);
    }
  });

  it('reads 0 as healthy and ignores undocumented bits', () => {
    expect(decodeThrottled(0)).toEqual({ raw: 0, now: none, since_boot: none });
    const t = decodeThrottled(0xfff0_fff0);
    expect(t.now).toEqual(none);
    expect(t.since_boot).toEqual(none);
    expect(decodeThrottled(0xffff_ffff).now.under_voltage).toBe(true);
  });

  it('refuses values that are not a 32-bit word', () => {
    expect(() => decodeThrottled(-1)).toThrow(RangeError);
    expect(() => decodeThrottled(1.5)).toThrow(RangeError);
    expect(() => decodeThrottled(2 ** 32)).toThrow(RangeError);
  });

  it('parses the vcgencmd output line and nothing else', () => {
    expect(parseGetThrottled('throttled=0x50005\n')).toBe(0x50005);
    expect(parseGetThrottled('throttled=0x0')).toBe(0);
    expect(parseGetThrottled('throttled=0xE0008\n')).toBe(0xe0008);
    expect(parseGetThrottled('')).toBeNull();
    expect(parseGetThrottled('VCHI initialization failed\n')).toBeNull();
    expect(parseGetThrottled('throttled=50005')).toBeNull();
  });

  it('says what is active now and what only happened since boot', () => {
    const t = decodeThrottled(0x50005);
    expect(isThrottledNow(t)).toBe(true);
    expect(describeThrottling(t)).toEqual(['under-voltage now', 'throttled now']);
    const past = decodeThrottled(0x20000);
    expect(isThrottledNow(past)).toBe(false);
    expect(describeThrottling(past)).toEqual(['ARM frequency capped since boot']);
    expect(describeThrottling(decodeThrottled(0))).toEqual([]);
  });
});
