import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PullResultSchema } from '../../shared/courier.ts';
import { createAppServices } from '../../electron/app/appServices.ts';
import { syntheticSecond } from '../../electron/demo/syntheticProducer.ts';
import { IngestEventSchema } from '../../shared/journal.ts';
import { makeTempDir } from '../support/tempDir.ts';
import { waitFor } from '../support/waitFor.ts';

describe('demo site', () => {
  const dir = makeTempDir();
  afterAll(() => {
    dir.remove();
  });

  it('makes valid events of every priority, inference with latency', () => {
    const events = syntheticSecond(0, 1_700_000_000_000, 600)
      .trim()
      .split('\n')
      .map((line) => IngestEventSchema.parse(JSON.parse(line)));
    expect(new Set(events.map((e) => e.priority))).toEqual(new Set([1, 2, 3]));
    expect(events.filter((e) => e.kind === 'inference').length).toBeGreaterThan(300);
  });

  it('runs three real agents fed by producers, which a newcomer can pull, and stops them on close', async () => {
    const services = await createAppServices({ dataDir: join(dir.path, 'data'), version: 'test', demo: true });
    try {
      const { devices } = await services.handlers['devices.list']({});
      expect(devices.map((d) => d.name)).toEqual(['demo-pi-01', 'demo-pi-02', 'demo-pi-03']);
      // Wait until every agent has journaled what its producer sent: live health says how many records each holds.
      await services.handlers['health.watch']({ leaseSeconds: 60 });
      await waitFor(
        async () => {
          const { views } = await services.handlers['health.fleet']({});
          return views.length === devices.length && views.every((v) => (v.sample?.journal.records ?? 0) > 10);
        },
        { timeoutMs: 30_000, what: 'every demo agent to journal more than 10 records' },
      );
      for (const device of devices) {
        const { jobId } = await services.handlers['courier.pull']({ id: device.id });
        const record = await services.jobs.whenFinished(jobId);
        expect(record.error).toBeNull();
        const result = PullResultSchema.parse(record.result);
        expect(result.deviceId).toBe(device.name);
        expect(result.journals[0]?.new_records).toBeGreaterThan(10);
      }
    } finally {
      await services.close();
    }
    // Started again ('auto': only demo devices registered), it reuses the same devices and journals.
    const again = await createAppServices({ dataDir: join(dir.path, 'data'), version: 'test', demo: 'auto' });
    try {
      const { devices } = await again.handlers['devices.list']({});
      expect(devices).toHaveLength(3);
      const { journals } = await again.handlers['courier.status']({});
      expect(journals).toHaveLength(3);
    } finally {
      await again.close();
    }
  });
});
