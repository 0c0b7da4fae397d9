import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { methodNames, methods } from '../../shared/api.ts';
import { JobEventSchema } from '../../shared/jobs.ts';
import { cliCommandFor } from '../../electron/cli/program.ts';
import { makeTempDir } from '../support/tempDir.ts';
import { runCliProcess, startCliProcess } from '../support/runCliProcess.ts';
import { createZram } from '../support/zram.ts';

describe('fieldkit CLI', () => {
  const dir = makeTempDir();
  const env = { FIELDKIT_DATA_DIR: join(dir.path, 'data') };
  afterAll(() => {
    dir.remove();
  });

  it('prints usage and exits 2 for an unknown command', async () => {
    const run = await runCliProcess(['flashh'], env);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("unknown command 'flashh'");
    expect(run.stderr).toContain('Usage: fieldkit');
  });

  it('exits 2 for a bad option value, saying what was expected', async () => {
    const run = await runCliProcess(['drives', 'list', '--image-size', 'lots'], env);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('positive whole number');
  });

  it.each(methodNames)('carries %s as a command', async (method) => {
    const run = await runCliProcess([...cliCommandFor[method].split(' '), '--help'], env);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('Usage: fieldkit');
  });

  it('prints drives as JSON that matches the contract', async () => {
    const run = await runCliProcess(['--json', 'drives'], env);
    expect(run.code).toBe(0);
    expect(methods['drives.list'].response.safeParse(JSON.parse(run.stdout)).success).toBe(true);
  });

  it('fails a check of a missing drive with the error and what to do (exit 1)', async () => {
    const human = await runCliProcess(['drives', 'check', '/dev/fieldkit-absent'], env);
    expect(human.code).toBe(1);
    expect(human.stderr).toContain('error: No drive /dev/fieldkit-absent is attached.');
    expect(human.stderr).toContain('what to do:');
    const json = await runCliProcess(['--json', 'drives', 'check', '/dev/fieldkit-absent'], env);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: false, error: { code: 'NOT_FOUND', field: 'device' } });
  });

  it('streams a job as NDJSON events with --json, ending in its final event', async () => {
    const zram = createZram(32 * 1024 * 1024);
    try {
      const run = await runCliProcess(['--json', 'drives', 'check', zram.device], env);
      expect(run.code).toBe(0);
      const lines = run.stdout.trim().split('\n').map((l) => JobEventSchema.parse(JSON.parse(l)));
      expect(lines.at(-1)).toMatchObject({ type: 'done', result: { bytesRead: zram.sizeBytes } });
    } finally {
      await zram.remove();
    }
  });

  it('marks a job interrupted when the CLI running it is killed -9, and never leaves it running', async () => {
    const zram = createZram(64 * 1024 ** 3);
    try {
      const child = startCliProcess(['--json', 'drives', 'check', zram.device], env);
      let out = '';
      await new Promise<void>((resolve) => {
        child.stdout?.on('data', (d: Buffer) => {
          out += d.toString('utf8');
          if (out.includes('"type":"progress"')) resolve();
        });
      });
      child.kill('SIGKILL');
      await new Promise((resolve) => child.on('close', resolve));
      const jobId = (JSON.parse(out.split('\n')[0] ?? '{}') as { jobId: string }).jobId;
      // The orphaned worker notices its parent is gone and stops reading the drive.
      const list = await runCliProcess(['--json', 'jobs', 'show', jobId], env);
      expect(list.code).toBe(0);
      const { job } = JSON.parse(list.stdout) as { job: { state: string; error: { code: string } | null } };
      expect(job.state).toBe('failed');
      expect(job.error?.code).toBe('INTERRUPTED');
    } finally {
      await zram.remove();
    }
  });
});
