import { describe, expect, it } from 'vitest';
import { describeVisit } from '../../electron/courier/cli/visitCommand.ts';
import { selectVisitDevices } from '../../electron/courier/siteVisitHandler.ts';
import { backOff, createVisitSlots } from '../../electron/courier/siteVisitSlots.ts';
import { JobCancelledError } from '../../electron/kernel/jobs/jobContext.ts';
import type { Device } from '../../shared/devices.ts';
import { VisitRequestSchema, type SiteVisitResult } from '../../shared/siteVisit.ts';
import { visitOutcome } from '../../renderer/src/courier/visitOutcome.ts';

const device = (id: string, name: string, site: string): Device => ({
  id,
  name,
  site,
  link: { kind: 'local', agentCommand: 'fieldkit-agent rpc' },
  hostKeyFingerprint: null,
  agentDeviceId: null,
  journalId: null,
  agentVersion: null,
  modelVersion: null,
  clockOffsetMs: null,
  lastSeenMs: null,
  lastError: null,
  addedMs: 0,
});
const fleet = [device('dev_aaaaaa', 'pi-01', 'north'), device('dev_bbbbbb', 'pi-02', 'south'), device('dev_cccccc', 'pi-03', 'north')];

describe('visit slots', () => {
  it('lets at most the limit in, serves waiters first come first served, and counts the most at once', async () => {
    const slots = createVisitSlots(2, new AbortController().signal);
    await slots.acquire();
    await slots.acquire();
    const order: string[] = [];
    const third = slots.acquire().then(() => order.push('third'));
    const fourth = slots.acquire().then(() => order.push('fourth'));
    await Promise.resolve();
    expect(slots.inFlight).toBe(2);
    expect(order).toEqual([]);
    slots.release();
    await third;
    expect(order).toEqual(['third']);
    slots.release();
    await fourth;
    expect(order).toEqual(['third', 'fourth']);
    expect(slots.maxInFlight).toBe(2);
  });

  it('wakes every waiter with a cancel, and a backoff ends at once when cancelled', async () => {
    const controller = new AbortController();
    const slots = createVisitSlots(1, controller.signal);
    await slots.acquire();
    const waiting = slots.acquire();
    const sleeping = backOff(60_000, controller.signal);
    controller.abort('technician left');
    await expect(waiting).rejects.toBeInstanceOf(JobCancelledError);
    await expect(sleeping).rejects.toThrow('technician left');
    await expect(slots.acquire()).rejects.toBeInstanceOf(JobCancelledError);
  });
});

describe('which devices a visit takes', () => {
  it('takes a site in list order, some ids, or all, and names the scope', () => {
    expect(selectVisitDevices(fleet, { site: 'north', parallel: 4 })).toMatchObject({ scope: 'site north', devices: [{ name: 'pi-01' }, { name: 'pi-03' }] });
    expect(selectVisitDevices(fleet, { ids: ['dev_bbbbbb'], parallel: 4 })).toMatchObject({ scope: 'pi-02', devices: [{ name: 'pi-02' }] });
    expect(selectVisitDevices(fleet, { all: true, parallel: 4 }).devices).toHaveLength(3);
  });

  it('refuses a site without devices naming the known ones, and unknown ids', () => {
    expect(() => selectVisitDevices(fleet, { site: 'west', parallel: 4 })).toThrow(/No device on this laptop is at site "west"/);
    try {
      selectVisitDevices(fleet, { site: 'west', parallel: 4 });
    } catch (error) {
      expect((error as { appError: { hint: string } }).appError.hint).toBe('Sites known here: north, south.');
    }
    expect(() => selectVisitDevices(fleet, { ids: ['dev_zzzzzz'], parallel: 4 })).toThrow(/No device has id dev_zzzzzz/);
  });

  it('takes exactly one of site, ids and all, and a bounded parallel (default 4)', () => {
    expect(VisitRequestSchema.parse({ site: 'north' }).parallel).toBe(4);
    expect(VisitRequestSchema.safeParse({}).success).toBe(false);
    expect(VisitRequestSchema.safeParse({ site: 'north', all: true }).success).toBe(false);
    expect(VisitRequestSchema.safeParse({ all: true, parallel: 0 }).success).toBe(false);
    expect(VisitRequestSchema.safeParse({ all: true, parallel: 33 }).success).toBe(false);
  });
});

describe('what a visit came to', () => {
  const result: SiteVisitResult = {
    scope: 'site north',
    parallel: 4,
    maxInFlight: 2,
    records: 1200,
    newRecords: 1200,
    bytes: 2_500_000,
    seconds: 12.5,
    bulkStartedMs: 1,
    devices: [
      {
        deviceRef: 'dev_aaaaaa',
        name: 'pi-01',
        site: 'north',
        status: 'done',
        attempts: 2,
        retries: 0,
        safetyRecords: 13,
        pull: { deviceRef: 'dev_aaaaaa', deviceId: 'pi-01', journals: [{ journal_id: 'j', pulled: 1200, new_records: 1200, contiguous_seq: 1200, agent_last_seq: 1200, losses: 0, forwarded_reported: 0 }], clockOffsetMs: 0, roundTripMs: 1, healthMinutes: 0 },
        bytes: 2_500_000,
        seconds: 12,
        error: null,
      },
      {
        deviceRef: 'dev_cccccc',
        name: 'pi-03',
        site: 'north',
        status: 'failed',
        attempts: 3,
        retries: 2,
        safetyRecords: 0,
        pull: null,
        bytes: 0,
        seconds: 3,
        error: { code: 'UNAVAILABLE', message: 'Cannot reach pi@10.0.0.3:22: connection refused (after 3 tries).', hint: 'Check the Pi is powered and on this network.' },
      },
    ],
  };

  it('says how many devices were pulled and names the ones that were not, as a warning', () => {
    expect(visitOutcome(result)).toEqual({ text: 'Visited site north: 1 of 2 devices pulled, 1,200 records (1,200 new), 2.5 MB in 0:13; 2 retries. Not pulled: pi-03.', tone: 'warn' });
    expect(visitOutcome({ nonsense: true })).toBeNull();
  });

  it('prints a line per device with what to do, then the whole visit', () => {
    const text = describeVisit(result);
    expect(text).toMatch(/^DEVICE\s+STATUS\s+RECORDS\s+SAFETY\s+BYTES\s+RETRIES\s+WHAT TO DO/);
    expect(text).toMatch(/pi-01\s+pulled\s+1,200\s+13\s+2\.5 MB\s+0/);
    expect(text).toMatch(/pi-03\s+FAILED\s+0\s+0\s+0 B\s+2\s+Cannot reach pi@10\.0\.0\.3:22/);
    expect(text).toMatch(/1 of 2 devices pulled \(site north\): 1,200 records \(1,200 new\), 2\.5 MB in 12\.5 s, .*at most 2 at once, 2 retries\./);
  });
});
