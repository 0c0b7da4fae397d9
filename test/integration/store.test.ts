import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { migrations } from '../../electron/kernel/store/migrations.ts';
import { openStore, storeFileName } from '../../electron/kernel/store/openStore.ts';
import { createJobStore } from '../../electron/kernel/jobs/jobStore.ts';
import { isFieldkitError } from '../../shared/errors.ts';
import { makeTempDir } from '../support/tempDir.ts';

describe('laptop store', () => {
  const dirs: { remove(): void }[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) d.remove();
  });
  function tempDir(): string {
    const d = makeTempDir();
    dirs.push(d);
    return d.path;
  }

  it('opens in WAL mode with full sync, at the latest schema', () => {
    const db = openStore(tempDir());
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('synchronous', { simple: true })).toBe(2);
    expect(db.pragma('user_version', { simple: true })).toBe(migrations.length);
    db.close();
  });

  it('refuses a store written by a newer fieldkit instead of guessing', () => {
    const dir = tempDir();
    const raw = new Database(join(dir, storeFileName));
    raw.pragma(`user_version = ${migrations.length + 1}`);
    raw.close();
    let thrown: unknown;
    try {
      openStore(dir);
    } catch (error) {
      thrown = error;
    }
    expect(isFieldkitError(thrown) && thrown.appError.code).toBe('CONFLICT');
  });

  it('fails jobs whose owning process is gone, and leaves live ones alone', () => {
    const dir = tempDir();
    const db = openStore(dir);
    const jobs = createJobStore(db);
    jobs.create({ id: 'job_orphan01', kind: 'drives.readCheck', title: 't', params: {}, createdAt: 1 });
    jobs.create({ id: 'job_alive001', kind: 'drives.readCheck', title: 't', params: {}, createdAt: 2 });
    db.prepare(`UPDATE jobs SET owner_pid = 999999999 WHERE id = 'job_orphan01'`).run();
    expect(jobs.failOrphans(3, (pid) => pid === process.pid)).toEqual(['job_orphan01']);
    expect(jobs.get('job_orphan01')).toMatchObject({ state: 'failed', endedAt: 3, error: { code: 'INTERRUPTED' } });
    expect(jobs.get('job_alive001')?.state).toBe('running');
    db.close();
  });

  it('keeps only the last 200 log lines of a job and shows the last 20', () => {
    const db = openStore(tempDir());
    const jobs = createJobStore(db);
    jobs.create({ id: 'job_chatty01', kind: 'drives.readCheck', title: 't', params: {}, createdAt: 1 });
    for (let i = 0; i < 250; i++) jobs.log('job_chatty01', i, 'info', `line ${i}`);
    const count = db.prepare(`SELECT count(*) AS n FROM job_log`).get() as { n: number };
    expect(count.n).toBe(200);
    const log = jobs.get('job_chatty01')?.log ?? [];
    expect(log).toHaveLength(20);
    expect(log.at(-1)?.message).toBe('line 249');
    expect(log[0]?.message).toBe('line 230');
    db.close();
  });
});
