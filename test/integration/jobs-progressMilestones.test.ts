/**
 * The runner sends at most ~10 progress events a second, but a phase or a drive state the
 * worker reported is never replaced unseen: a short "checking image" must reach the screen.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { JobEvent } from '../../shared/jobs.ts';
import { createEventBus } from '../../electron/kernel/api/eventBus.ts';
import { jobKinds } from '../../electron/app/domains.ts';
import { createJobRunner } from '../../electron/kernel/jobs/jobRunner.ts';
import { createJobStore } from '../../electron/kernel/jobs/jobStore.ts';
import { openStore } from '../../electron/kernel/store/openStore.ts';
import { makeTempDir } from '../support/tempDir.ts';

/** A worker that reports three phases within a few milliseconds, then a burst of byte counts. */
const burstWorker = `
process.once('message', async () => {
  const send = (m) => new Promise((resolve) => process.send(m, undefined, undefined, resolve));
  await send({ type: 'progress', progress: { phase: 'preparing', bytesDone: 0, bytesTotal: 100 } });
  await send({ type: 'progress', progress: { phase: 'checking', bytesDone: 0, bytesTotal: 100 } });
  await send({ type: 'progress', progress: { phase: 'writing', bytesDone: 1, bytesTotal: 100 } });
  for (let i = 2; i <= 100; i++) await send({ type: 'progress', progress: { phase: 'writing', bytesDone: i, bytesTotal: 100 } });
  // A result a read check returns: the runner checks it against the kind's schema.
  await send({ type: 'done', result: { device: '/dev/null', bytesRead: 0, sizeBytes: 0, sha256: null, seconds: 0, averageBytesPerSecond: 0, badRegions: [] } });
  process.disconnect();
});
`;

describe('job progress milestones', () => {
  const dir = makeTempDir();
  afterAll(() => {
    dir.remove();
  });

  it('sends every phase a worker reported, however short, and still thins out the byte counts', async () => {
    const script = join(dir.path, 'burstWorker.mjs');
    writeFileSync(script, burstWorker);
    const db = openStore(dir.path);
    const bus = createEventBus();
    const events: JobEvent[] = [];
    bus.subscribe((name, payload) => {
      if (name === 'job.event') events.push(payload as JobEvent);
    });
    const runner = createJobRunner({ kinds: jobKinds, store: createJobStore(db), bus, launch: { execPath: process.execPath, script, env: {} } });
    try {
      const job = runner.start('drives.readCheck', { device: '/dev/null', sizeBytes: 0 });
      const record = await runner.whenFinished(job.id);
      expect(record.state).toBe('done');
      const phases = events.flatMap((e) => (e.type === 'progress' ? [e.progress.phase] : []));
      expect([...new Set(phases)]).toEqual(['preparing', 'checking', 'writing']);
      // 102 reports in a few milliseconds: the byte counts are thinned, the phases are not.
      expect(phases.length).toBeLessThan(20);
    } finally {
      await runner.close();
      db.close();
    }
  });
});
