/**
 * A job's result crosses a process (worker → runner) as plain JSON: the runner checks it
 * against the result schema of the job's kind (in shared/) before it is recorded. A result
 * that does not parse fails the job saying so, naming the kind; it is never recorded as if
 * it were that kind's result. Workers here are scripts that send one final message.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jobResultOf, type JobRecord } from '../../shared/jobs.ts';
import { jobKinds } from '../../electron/app/domains.ts';
import { createEventBus } from '../../electron/kernel/api/eventBus.ts';
import { createJobRunner } from '../../electron/kernel/jobs/jobRunner.ts';
import { createJobStore } from '../../electron/kernel/jobs/jobStore.ts';
import { openStore, type Store } from '../../electron/kernel/store/openStore.ts';
import { makeTempDir } from '../support/tempDir.ts';

/** A worker that answers the start with the final message in $FAKE_FINAL. */
const scriptedWorker = `
process.once('message', async () => {
  await new Promise((resolve) => process.send(JSON.parse(process.env.FAKE_FINAL), undefined, undefined, resolve));
  process.disconnect();
});
`;

const readCheck = { device: '/dev/null', bytesRead: 0, sizeBytes: 0, sha256: null, seconds: 0, averageBytesPerSecond: 0, badRegions: [] };
const ioError = { code: 'IO_ERROR', message: 'The drive stopped answering.', hint: 'Reinsert it.' };

describe('job results checked where they cross from the worker', () => {
  const dir = makeTempDir();
  const script = join(dir.path, 'scriptedWorker.mjs');
  let db: Store;

  beforeAll(() => {
    writeFileSync(script, scriptedWorker);
    db = openStore(dir.path);
  });
  afterAll(() => {
    db.close();
    dir.remove();
  });

  /** Runs one job whose worker sends `final`; resolves with its record. */
  async function runWith(final: unknown, start: (runner: ReturnType<typeof createRunner>) => JobRecord): Promise<JobRecord> {
    const runner = createRunner(final);
    try {
      return await runner.whenFinished(start(runner).id);
    } finally {
      await runner.close();
    }
  }

  function createRunner(final: unknown) {
    return createJobRunner({ kinds: jobKinds, store: createJobStore(db), bus: createEventBus(), launch: { execPath: process.execPath, script, env: { FAKE_FINAL: JSON.stringify(final) } } });
  }

  const startReadCheck = (runner: ReturnType<typeof createRunner>) => runner.start('drives.readCheck', { device: '/dev/null', sizeBytes: 0 });

  it('fails a finished job whose result is not what its kind returns, naming the kind, and records no result', async () => {
    const { sha256: _dropped, ...withoutHash } = readCheck;
    const record = await runWith({ type: 'done', result: withoutHash }, startReadCheck);
    expect(record.state).toBe('failed');
    expect(record.error?.code).toBe('INTERNAL');
    expect(record.error?.message).toMatch(/^The drives\.readCheck job finished, but its result is not what a drives\.readCheck job returns \(.*sha256.*\), so it was not recorded\.$/);
    expect(record.error?.hint).toMatch(/bug in fieldkit/);
    expect(record.result).toBeNull();
  });

  it('says how a failed job failed when its result does not parse either', async () => {
    const record = await runWith({ type: 'failed', error: ioError, result: { drives: 'all fine' } }, startReadCheck);
    expect(record.state).toBe('failed');
    expect(record.error?.code).toBe('INTERNAL');
    expect(record.error?.message).toMatch(/drives\.readCheck job failed \(The drive stopped answering\.\), but its result is not what/);
    expect(record.result).toBeNull();
  });

  it('records a result that parses as the schema reads it (defaults filled in)', async () => {
    const record = await runWith({ type: 'done', result: { found: [], probed: 3 } }, (runner) =>
      runner.start('devices.discover', { port: 22, mdns: false, serial: false, known: [] }),
    );
    expect(record.state).toBe('done');
    expect(record.result).toEqual({ found: [], probed: 3, sources: [] });
    expect(jobResultOf(record, 'devices.discover')?.probed).toBe(3);
  });

  it("checks what a stopped job still carries against its kind's stopped schema", async () => {
    const start = (runner: ReturnType<typeof createRunner>) =>
      runner.start('devices.provision', {
        dataDir: dir.path,
        deviceRef: 'dev_none',
        port: '/dev/ttyNONE',
        identity: { hostname: 'pi-1', deviceId: 'pi-1', site: 'depot' },
        network: { mode: 'dhcp', interface: 'eth0' },
        user: 'pi',
      });
    const kept = await runWith({ type: 'failed', error: ioError, result: { steps: [], transcript: [] } }, start);
    expect(kept.state).toBe('failed');
    expect(kept.error).toEqual(ioError);
    expect(kept.result).toEqual({ steps: [], transcript: [] });
    // A stopped provisioning's steps are not a provisioning's result.
    expect(jobResultOf(kept, 'devices.provision')).toBeNull();

    const wrong = await runWith({ type: 'cancelled', reason: 'cancelled', result: { steps: 'none' } }, start);
    expect(wrong.state).toBe('failed');
    expect(wrong.error?.message).toMatch(/^The devices\.provision job was cancelled, but its result is not what a devices\.provision job returns/);
  });
});
