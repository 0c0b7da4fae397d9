import { execFileSync } from 'node:child_process';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { JobEvent } from '../../shared/jobs.ts';
import { createEventBus } from '../../electron/kernel/api/eventBus.ts';
import { jobKinds, type AppJobKinds } from '../../electron/app/domains.ts';
import { defaultWorkerLaunch } from '../../electron/app/jobWorkerLaunch.ts';
import { createJobRunner, type JobRunner } from '../../electron/kernel/jobs/jobRunner.ts';
import { createJobStore } from '../../electron/kernel/jobs/jobStore.ts';
import { openStore, type Store } from '../../electron/kernel/store/openStore.ts';
import { makeTempDir } from '../support/tempDir.ts';
import { createZram, fillRandom, type ZramDevice } from '../support/zram.ts';

/** Real worker processes reading real block devices (zram). */
describe('job runner', () => {
  const dir = makeTempDir();
  let db: Store;
  let runner: JobRunner<AppJobKinds>;
  let events: JobEvent[];
  let small: ZramDevice;
  let huge: ZramDevice;

  beforeAll(() => {
    small = createZram(64 * 1024 * 1024);
    fillRandom(small.device, small.sizeBytes);
    // 64 GiB of never-written zram reads as zeros at memory speed but still takes many
    // seconds: long enough to cancel or kill a job in the middle.
    huge = createZram(64 * 1024 ** 3);
  });

  afterAll(async () => {
    await small.remove();
    await huge.remove();
    dir.remove();
  });

  function fresh(cancelGraceMs = 5000): void {
    db = openStore(dir.path);
    const bus = createEventBus();
    events = [];
    bus.subscribe((name, payload) => {
      if (name === 'job.event') events.push(payload as JobEvent);
    });
    runner = createJobRunner({ kinds: jobKinds, store: createJobStore(db), bus, launch: defaultWorkerLaunch(), cancelGraceMs });
  }

  afterEach(async () => {
    await runner.close();
    db.close();
  });

  function firstProgress(jobId: string): Promise<void> {
    return new Promise((resolve) => {
      const timer = setInterval(() => {
        if (events.some((e) => e.jobId === jobId && e.type === 'progress')) {
          clearInterval(timer);
          resolve();
        }
      }, 10);
    });
  }

  it('reads a drive to the end and hashes it exactly like sha256sum', async () => {
    fresh();
    const job = runner.start('drives.readCheck', { device: small.device, sizeBytes: small.sizeBytes });
    expect(job.state).toBe('running');
    const record = await runner.whenFinished(job.id);
    const oracle = execFileSync('sha256sum', [small.device], { encoding: 'utf8' }).split(' ')[0];
    expect(record.state).toBe('done');
    expect(record.result).toMatchObject({ bytesRead: small.sizeBytes, sha256: oracle, badRegions: [] });
    const mine = events.filter((e) => e.jobId === job.id);
    expect(mine[0]?.type).toBe('started');
    expect(mine.at(-1)?.type).toBe('done');
    const lastProgress = mine.filter((e) => e.type === 'progress').at(-1);
    expect(lastProgress?.type === 'progress' && lastProgress.progress.bytesDone).toBe(small.sizeBytes);
  });

  it('sends at most 10 progress events a second', async () => {
    fresh();
    const job = runner.start('drives.readCheck', { device: huge.device, sizeBytes: huge.sizeBytes, maxBytes: 1.5 * 1024 ** 3 });
    await runner.whenFinished(job.id);
    const times = events.filter((e) => e.jobId === job.id && e.type === 'progress').map((e) => e.at);
    expect(times.length).toBeGreaterThan(3);
    for (let i = 1; i < times.length - 1; i++) expect((times[i] ?? 0) - (times[i - 1] ?? 0)).toBeGreaterThanOrEqual(99);
    const seconds = ((times.at(-1) ?? 0) - (times[0] ?? 0)) / 1000;
    expect(times.length).toBeLessThanOrEqual(Math.ceil(seconds * 10) + 2);
  });

  it('cancels a running job: one final cancelled event, recorded in history', async () => {
    fresh();
    const job = runner.start('drives.readCheck', { device: huge.device, sizeBytes: huge.sizeBytes });
    await firstProgress(job.id);
    const record = await runner.cancel(job.id);
    expect(record.state).toBe('cancelled');
    const finals = events.filter((e) => e.jobId === job.id && ['done', 'failed', 'cancelled'].includes(e.type));
    expect(finals).toHaveLength(1);
    expect((record.progress?.bytesDone ?? 0) < huge.sizeBytes).toBe(true);
  });

  it('fails a job whose worker is killed -9, instead of leaving it running', async () => {
    fresh();
    const job = runner.start('drives.readCheck', { device: huge.device, sizeBytes: huge.sizeBytes });
    await firstProgress(job.id);
    process.kill(runner.workerPid(job.id) ?? -1, 'SIGKILL');
    const record = await runner.whenFinished(job.id);
    expect(record.state).toBe('failed');
    expect(record.error).toMatchObject({ code: 'WORKER_DIED' });
    expect(record.error?.message).toContain('SIGKILL');
  });

  it('kills a worker that does not answer a cancel within the grace period', async () => {
    fresh(500);
    const job = runner.start('drives.readCheck', { device: huge.device, sizeBytes: huge.sizeBytes });
    await firstProgress(job.id);
    const pid = runner.workerPid(job.id) ?? -1;
    process.kill(pid, 'SIGSTOP'); // a hung worker: it cannot even read the cancel
    const started = Date.now();
    const record = await runner.cancel(job.id);
    expect(record.state).toBe('cancelled');
    expect(Date.now() - started).toBeGreaterThanOrEqual(450);
    expect(record.error).toBeNull();
    expect(events.filter((e) => e.jobId === job.id && e.type === 'cancelled')).toHaveLength(1);
  });

  it('fails a read of a device that is not there with NOT_FOUND and advice', async () => {
    fresh();
    const job = runner.start('drives.readCheck', { device: '/dev/fieldkit-no-such-drive', sizeBytes: 1024 });
    const record = await runner.whenFinished(job.id);
    expect(record.state).toBe('failed');
    expect(record.error).toMatchObject({ code: 'NOT_FOUND' });
    expect(record.error?.hint).toMatch(/plugged in/);
  });

  it('keeps history across a restart of the store', async () => {
    fresh();
    const job = runner.start('drives.readCheck', { device: small.device, sizeBytes: small.sizeBytes, maxBytes: 1024 * 1024 });
    await runner.whenFinished(job.id);
    await runner.close();
    db.close();
    fresh();
    const again = runner.get(job.id);
    expect(again?.state).toBe('done');
    expect(again?.log.length).toBeGreaterThan(0);
    expect(runner.list({ limit: 100 }).some((j) => j.id === job.id)).toBe(true);
  });
});
