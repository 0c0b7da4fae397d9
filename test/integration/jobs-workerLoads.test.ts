/**
 * A job worker loads only its own job kind's domain (app/jobKindLoaders.ts): a real worker
 * process runs a real read-check job while a preloaded hook records every module it loads.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { jobKinds } from '../../electron/app/domains.ts';
import { jobKindLoaders, loadJobKind } from '../../electron/app/jobKindLoaders.ts';
import { defaultWorkerLaunch } from '../../electron/app/jobWorkerLaunch.ts';
import { createEventBus } from '../../electron/kernel/api/eventBus.ts';
import { createJobRunner } from '../../electron/kernel/jobs/jobRunner.ts';
import { createJobStore } from '../../electron/kernel/jobs/jobStore.ts';
import { openStore } from '../../electron/kernel/store/openStore.ts';
import { JobKindSchema } from '../../shared/jobs.ts';
import { makeTempDir } from '../support/tempDir.ts';

const recorder = fileURLToPath(new URL('../support/moduleLoadRecorder.ts', import.meta.url));
const repo = fileURLToPath(new URL('../../', import.meta.url));

describe('job worker loading', () => {
  const dir = makeTempDir('fieldkit-worker-loads-');
  afterAll(() => {
    dir.remove();
  });

  it('gives every job kind the very spec the app composes from its domains', async () => {
    expect(Object.keys(jobKindLoaders).sort()).toEqual([...JobKindSchema.options].sort());
    for (const kind of JobKindSchema.options) expect(await loadJobKind(kind), kind).toBe(jobKinds[kind]);
  });

  it("runs a read-check job having loaded no other domain's modules", async () => {
    const sample = path.join(dir.path, 'sample.img');
    writeFileSync(sample, Buffer.alloc(1024 * 1024, 7));
    const record = path.join(dir.path, 'modules.txt');
    const db = openStore(dir.path);
    const launch = defaultWorkerLaunch();
    const runner = createJobRunner({
      kinds: jobKinds,
      store: createJobStore(db),
      bus: createEventBus(),
      launch: { ...launch, env: { ...launch.env, NODE_OPTIONS: `--import=${recorder}`, FIELDKIT_RECORD_MODULES: record } },
    });
    try {
      const job = runner.start('drives.readCheck', { device: sample, sizeBytes: 1024 * 1024 });
      const finished = await runner.whenFinished(job.id);
      expect(finished.error).toBeNull();
      expect(finished.state).toBe('done');
    } finally {
      await runner.close();
      db.close();
    }
    const ours = readFileSync(record, 'utf8')
      .split('\n')
      .filter((url) => url.startsWith('file:') && !url.includes('/node_modules/'))
      .map((url) => path.relative(repo, fileURLToPath(url)));
    expect(ours).toContain('electron/drives/readCheck.ts');
    const otherDomains = ours.filter((file) => /^electron\/(?!drives\/|kernel\/|app\/)/.test(file));
    expect(otherDomains).toEqual([]);
  });
});
