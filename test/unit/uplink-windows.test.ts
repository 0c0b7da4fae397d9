import { describe, expect, it } from 'vitest';
import { backoffDelay, describeUplinkError } from '../../agent/uplink/uplink.ts';
import { isInsideWindows, msUntilWindowOpens } from '../../agent/uplink/uplinkWindows.ts';

const at = (h: number, m: number, s = 0): Date => new Date(2026, 0, 15, h, m, s);

describe('uplink time windows (local HH:MM)', () => {
  it('is always inside when no windows are set', () => {
    expect(isInsideWindows([], at(3, 0))).toBe(true);
    expect(msUntilWindowOpens([], at(3, 0))).toBe(0);
  });

  it('takes from inclusive and to exclusive within a day', () => {
    const windows = [{ from: '09:30', to: '17:00' }];
    expect(isInsideWindows(windows, at(9, 29, 59))).toBe(false);
    expect(isInsideWindows(windows, at(9, 30))).toBe(true);
    expect(isInsideWindows(windows, at(16, 59, 59))).toBe(true);
    expect(isInsideWindows(windows, at(17, 0))).toBe(false);
  });

  it('wraps midnight', () => {
    const night = [{ from: '22:00', to: '06:00' }];
    expect(isInsideWindows(night, at(23, 15))).toBe(true);
    expect(isInsideWindows(night, at(0, 0))).toBe(true);
    expect(isInsideWindows(night, at(5, 59))).toBe(true);
    expect(isInsideWindows(night, at(6, 0))).toBe(false);
    expect(isInsideWindows(night, at(12, 0))).toBe(false);
  });

  it('treats from = to as the whole day, and any of several windows as open', () => {
    expect(isInsideWindows([{ from: '04:00', to: '04:00' }], at(13, 0))).toBe(true);
    const two = [{ from: '01:00', to: '02:00' }, { from: '13:00', to: '14:00' }];
    expect(isInsideWindows(two, at(13, 30))).toBe(true);
    expect(isInsideWindows(two, at(12, 30))).toBe(false);
  });

  it('says how long until the next window opens, across midnight too', () => {
    expect(msUntilWindowOpens([{ from: '22:00', to: '06:00' }], at(21, 59, 30))).toBe(30_000);
    expect(msUntilWindowOpens([{ from: '22:00', to: '06:00' }], at(12, 0))).toBe(10 * 3_600_000);
    expect(msUntilWindowOpens([{ from: '01:00', to: '02:00' }, { from: '13:00', to: '14:00' }], at(23, 0))).toBe(2 * 3_600_000);
    expect(msUntilWindowOpens([{ from: '01:00', to: '02:00' }], at(1, 30))).toBe(0);
  });

  it('refuses a malformed time', () => {
    expect(() => isInsideWindows([{ from: '9:30', to: '17:00' }], at(10, 0))).toThrow(/HH:MM/);
  });
});

describe('uplink backoff', () => {
  it('doubles from the initial delay up to the cap, with up to half of it random', () => {
    const low = (n: number): number => backoffDelay(n, 1_000, 300_000, () => 0);
    const high = (n: number): number => backoffDelay(n, 1_000, 300_000, () => 1);
    expect([1, 2, 3, 4].map(low)).toEqual([500, 1_000, 2_000, 4_000]);
    expect([1, 2, 3, 4].map(high)).toEqual([1_000, 2_000, 4_000, 8_000]);
    expect(high(9)).toBe(256_000);
    expect(high(10)).toBe(300_000);
    expect(low(50)).toBe(150_000);
    expect(high(5000)).toBe(300_000);
  });

  it('says what to check for each kind of failure', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:8123'), { code: 'ECONNREFUSED' });
    expect(describeUplinkError(refused, 'http://ch:8123/')).toMatchObject({ code: 'UNAVAILABLE', message: expect.stringContaining('not reachable') as unknown });
    const auth = Object.assign(new Error('Code: 516. DB::Exception: default: Authentication failed'), { code: '516' });
    expect(describeUplinkError(auth, 'http://ch:8123/')).toMatchObject({ code: 'PERMISSION_DENIED', hint: expect.stringContaining('password') as unknown });
    expect(describeUplinkError(new Error('Code: 27. Cannot parse input'), 'http://ch:8123/').hint).toMatch(/shared\/clickhouseSchema\.ts/);
  });
});
