import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createAppServices } from '../../electron/app/appServices.ts';
import { findClickHouseServer, startDemoClickHouse } from '../../electron/demo/demoClickHouse.ts';
import { makeTempDir } from '../support/tempDir.ts';
import { waitFor } from '../support/waitFor.ts';

describe('the demo brings its own ClickHouse', () => {
  const dir = makeTempDir();
  afterAll(() => {
    dir.remove();
  });

  it('starts one when a server is installed, pre-fills Settings, and a newcomer can pull, forward and reconcile', async () => {
    const dataDir = join(dir.path, 'fresh');
    const services = await createAppServices({ dataDir, version: 'test', demo: true });
    try {
      const info = await services.handlers['app.info']({});
      const clickhouse = info.demo?.clickhouse;
      if (clickhouse === undefined || !('url' in clickhouse)) throw new Error(`no demo ClickHouse: ${JSON.stringify(info.demo)}`);
      expect(clickhouse.settings).toBe('prefilled');
      expect(clickhouse.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
      const settings = await services.handlers['settings.clickhouse.get']({});
      expect(settings.settings?.url).toBe(clickhouse.url);

      const { devices } = await services.handlers['devices.list']({});
      for (const device of devices) {
        // A demo agent journals from its first second; pull again until it had something to carry.
        await waitFor(
          async () => {
            const { jobId } = await services.handlers['courier.pull']({ id: device.id });
            const record = await services.jobs.whenFinished(jobId);
            expect(record.error).toBeNull();
            const { journals } = await services.handlers['courier.status']({});
            return journals.some((j) => j.device_ref === device.id && j.contiguous_seq > 10) || null;
          },
          { timeoutMs: 30_000, what: `${device.name} to have journaled records to pull` },
        );
      }
      const forward = await services.handlers['courier.forward']({ retryForSeconds: 60 });
      expect((await services.jobs.whenFinished(forward.jobId)).error).toBeNull();
      const { journals } = await services.handlers['courier.reconcile']({ maxRanges: 50 });
      expect(journals).toHaveLength(3);
      for (const journal of journals) {
        // Everything pulled is in the demo's ClickHouse; only what the agents journaled since may be outside it.
        expect(journal.clickhouse.distinct).toBeGreaterThan(10);
        expect(journal.missing.filter((range) => range.reason !== 'not_yet_pulled')).toEqual([]);
      }
    } finally {
      await services.close();
    }
  });

  it('never replaces a ClickHouse the technician set', async () => {
    const dataDir = join(dir.path, 'configured');
    const first = await createAppServices({ dataDir, version: 'test', demo: false });
    await first.handlers['settings.clickhouse.set']({ url: 'https://ch.example.test:8443' });
    await first.close();
    const services = await createAppServices({ dataDir, version: 'test', demo: true });
    try {
      const info = await services.handlers['app.info']({});
      expect(info.demo?.clickhouse).toMatchObject({ settings: 'kept' });
      expect((await services.handlers['settings.clickhouse.get']({})).settings?.url).toBe('https://ch.example.test:8443');
    } finally {
      await services.close();
    }
  });

  it('says how to get one when no server is installed', async () => {
    const empty = join(dir.path, 'empty-path');
    mkdirSync(empty);
    expect(findClickHouseServer({ PATH: empty }, [])).toBeNull();
    const outcome = await startDemoClickHouse({ demoDir: join(dir.path, 'none'), server: null });
    expect(outcome).toMatchObject({ unavailable: 'no ClickHouse server is installed on this computer' });
    expect('hint' in outcome ? outcome.hint : '').toMatch(/apt install clickhouse-server/);
  });

  it('reports a server that fails to start instead of hanging', async () => {
    const outcome = await startDemoClickHouse({ demoDir: join(dir.path, 'broken'), server: { command: '/bin/false', args: [] } });
    expect('unavailable' in outcome ? outcome.unavailable : '').toMatch(/did not start/);
  });
});
