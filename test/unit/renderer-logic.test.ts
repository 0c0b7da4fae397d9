import { describe, expect, it } from 'vitest';
import type { Drive } from '../../shared/drives.ts';
import { progressFigures } from '../../renderer/src/jobs/progressFigures.ts';
import { summarizeReadCheck, summarizeReadCheckBriefly } from '../../renderer/src/drives/readCheckSummary.ts';
import { reconnectDelayMs } from '../../renderer/src/api/reconnectDelay.ts';
import { orderDrivesForDisplay } from '../../renderer/src/drives/driveOrder.ts';

/** The renderer's pure logic, run in Node (the screens themselves are covered by e2e). */
describe('progress figures', () => {
  it('says what a running job has done, how fast and how long is left', () => {
    expect(
      progressFigures({ phase: 'reading', bytesDone: 13.4e9, bytesTotal: 31.9e9, unit: 'bytes', rateBytesPerSec: 85.3e6, etaSeconds: 217 }),
    ).toEqual({ percent: '42%', amount: '13.4 GB of 31.9 GB', rate: '85.3 MB/s', eta: '3:37' });
  });

  it('does not invent a percentage or ETA it cannot know', () => {
    expect(progressFigures({ phase: 'x', bytesDone: 5e6, bytesTotal: null, unit: 'bytes', rateBytesPerSec: null, etaSeconds: null })).toEqual({
      percent: null,
      amount: '5.0 MB',
      rate: null,
      eta: null,
    });
    expect(progressFigures(null).amount).toBe('starting…');
  });

  it('counts items (hosts probed, records pulled) as numbers, not bytes', () => {
    expect(progressFigures({ phase: 'probing hosts', bytesDone: 64, bytesTotal: 254, unit: 'items', rateBytesPerSec: 120.4, etaSeconds: 2 })).toEqual({
      percent: '25%',
      amount: '64 of 254',
      rate: '120/s',
      eta: '0:02',
    });
  });

  it('says how many bytes carried the records of a pull', () => {
    expect(progressFigures({ phase: 'pulling', bytesDone: 500, bytesTotal: 30_000, unit: 'items', rateBytesPerSec: null, etaSeconds: null, bytesReceived: 131_072 }).amount).toBe('500 of 30,000 (131.1 kB)');
  });
});

describe('read check summary', () => {
  const result = { device: '/dev/sdb', bytesRead: 32e9, sizeBytes: 32e9, sha256: null, seconds: 400, averageBytesPerSecond: 80e6, badRegions: [{ offset: 0, length: 4096, code: 'EIO' }] };
  it('reads as one sentence, counting unreadable regions', () => {
    expect(summarizeReadCheck(result)).toBe('Read 32.0 GB in 6:40 at 80.0 MB/s, 1 unreadable region');
    expect(summarizeReadCheckBriefly({ ...result, badRegions: [] })).toBe('80.0 MB/s, no unreadable regions');
  });
  it('ignores a result that is not a read check', () => {
    expect(summarizeReadCheck({ what: 'else' })).toBeNull();
  });
});

describe('reconnect delay', () => {
  it('starts fast, doubles, and caps at 10 s with jitter', () => {
    expect(reconnectDelayMs(1, () => 0.5)).toBe(500);
    expect(reconnectDelayMs(3, () => 0.5)).toBe(2000);
    expect(reconnectDelayMs(20, () => 0.5)).toBe(10_000);
    expect(reconnectDelayMs(20, () => 1)).toBe(12_000);
    expect(reconnectDelayMs(20, () => 0)).toBe(8000);
  });
});

describe('drive order', () => {
  const base = { raw: '', description: '', sizeBytes: 1, blockSize: 512, busType: 'USB', isRemovable: true, isReadOnly: false, isVirtual: false, isUSB: true, isCard: null, mountpoints: [], partitionTableType: null, refusals: [], warnings: [] };
  it('puts targets first and the system drive last, keeping the OS order otherwise', () => {
    const drives: Drive[] = [
      { ...base, device: '/dev/sda', isSystem: true, flashable: false },
      { ...base, device: '/dev/sdc', isSystem: false, flashable: false },
      { ...base, device: '/dev/sdb', isSystem: false, flashable: true },
      { ...base, device: '/dev/sdd', isSystem: false, flashable: true },
    ];
    expect(orderDrivesForDisplay(drives).map((d) => d.device)).toEqual(['/dev/sdb', '/dev/sdd', '/dev/sdc', '/dev/sda']);
  });
});

describe('job summaries', () => {
  it('say what a pull, a forward and a discovery did', async () => {
    const { summarizeJob } = await import('../../renderer/src/jobs/jobSummary.ts');
    const { jobSummaries } = await import('../../renderer/src/shell/jobSummaries.ts');
    expect(summarizeJob({ kind: 'courier.pull', title: 'Pull journals from pi-07', result: { deviceRef: 'dev_1', deviceId: 'pi-07', journals: [{ journal_id: 'j1', pulled: 1200, new_records: 1200, contiguous_seq: 1350, agent_last_seq: 1350, losses: 0, forwarded_reported: 0 }], clockOffsetMs: 0, roundTripMs: 3, healthMinutes: 0 } }, jobSummaries)).toBe(
      'pi-07: pulled 1,200 new records; held here through seq 1,350.',
    );
    expect(summarizeJob({ kind: 'devices.discover', title: 'Look for devices', result: { probed: 254, found: [{ kind: 'ssh', address: '10.0.0.7:22', name: null, source: 'subnet', detail: null, known: false }] } }, jobSummaries)).toBe(
      'Found 1 (1 not yet added); 254 hosts probed.',
    );
    // A done forward always carries its result: without one, the panel must not claim it went fine.
    expect(summarizeJob({ kind: 'courier.forward', title: 'Forward', result: null }, jobSummaries)).toBe(
      'The job finished, but its result could not be read: it is not in the form this fieldkit window expects.',
    );
  });

  it('say so when a result cannot be read, for every job kind, instead of a made-up "Finished."', async () => {
    const { summarizeJob } = await import('../../renderer/src/jobs/jobSummary.ts');
    const { jobSummaries } = await import('../../renderer/src/shell/jobSummaries.ts');
    const { JobKindSchema } = await import('../../shared/jobs.ts');
    for (const kind of JobKindSchema.options) {
      for (const result of [null, { unexpected: true }, 'text']) {
        expect(summarizeJob({ kind, title: `Pull journals from pi-07`, result }, jobSummaries), `${kind} with ${JSON.stringify(result)}`).toMatch(/^The job finished, but its result could not be read/);
      }
    }
  });

  it('come from the domain that owns each job kind, one summarizer per kind', async () => {
    const { jobSummaries } = await import('../../renderer/src/shell/jobSummaries.ts');
    const { JobKindSchema } = await import('../../shared/jobs.ts');
    expect(Object.keys(jobSummaries).sort()).toEqual([...JobKindSchema.options].sort());
  });

  it('tell the courier screen when a pull or forward result is unreadable, so its notice is not a false "ok"', async () => {
    const { courierJobNotice, forwardOutcome, pullOutcome } = await import('../../renderer/src/courier/courierOutcomes.ts');
    expect(pullOutcome({ deviceId: 'pi-07' }, 'pi-07')).toBeNull();
    expect(forwardOutcome({ forwarded: 'many' })).toBeNull();
    expect(courierJobNotice({ id: 'job_abcdef', kind: 'courier.forward', params: {} }, { type: 'done', jobId: 'job_abcdef', at: 1, result: null })).toEqual({
      key: 'forward',
      kind: 'info',
      tone: 'warn',
      text: 'Forward to ClickHouse finished, but its result could not be read: it is not in the form this fieldkit window expects.',
    });
    expect(courierJobNotice({ id: 'job_abcdef', kind: 'courier.pull', params: { deviceRef: 'd1', deviceName: 'pi-07' } }, { type: 'done', jobId: 'job_abcdef', at: 1, result: {} })).toMatchObject({
      key: 'pull:d1',
      tone: 'warn',
      text: expect.stringMatching(/^Pull from pi-07 finished, but its result could not be read/) as unknown,
    });
  });
});
