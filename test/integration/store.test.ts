import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { migrations } from '../../electron/kernel/store/migrations.ts';
import { openStore, storeFileName } from '../../electron/kernel/store/openStore.ts';
import { createJobStore } from '../../electron/kernel/jobs/jobStore.ts';
import { isFieldkitError } from '../../shared/errors.ts';
import { tempDirs } from '../support/tempDir.ts';

describe('laptop store', () => {
  const dirs = tempDirs();
  afterEach(() => {
    dirs.removeAll();
  });
  const tempDir = dirs.make;

  it('opens in WAL mode with full sync, at the latest schema', () => {
    const db = openStore(tempDir());
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('synchronous', { simple: true })).toBe(2);
    expect(db.pragma('user_version', { simple: true })).toBe(migrations.length);
    db.close();
  });

  // Pinned when the migrations were split one per file, from the single array every released
  // laptop ran: a store created or migrated by the new files has exactly the old schema.
  const releasedMigrationSha256 = [
    '72f8ce2a72ce0e7792c66e63540cfc6c1bcf62574cd8ed6cd9d28513502c7141',
    '9f030d96234e59ca133808885e21d8994d66fc9a5f0e4dc7ad00ea2a6842e880',
    'cd4ae77e8d1c8b73fb87492e08d6c578530a94dba7e1f3571becbba0ded2d3d5',
    '91c461b3d9d915b1d37cd0c91e90ae54cf67d0dd06077c4d5773be59d2884877',
    'fee9a2eb0dd0f1c3e01c68ed428fc3c9f793b098bd059c80ceaf5e5404a7782e',
    '2015a6b0a36d6e34b5083ef4e0d2491cc5102469a5629965161df630724d3bba',
    '5a00b8540954ba36a3b87434fee0d320059161ba8045ec531d5d8de82f93194e',
    'e710b694c0625f0b263a7dbeaa6219660b4d426500545297f5c990b0ba5fdc93',
  ];

  it('never changes a released migration: each keeps its text, number and place', () => {
    const sha = migrations.map((sql) => createHash('sha256').update(sql).digest('hex'));
    expect(sha.slice(0, releasedMigrationSha256.length)).toEqual(releasedMigrationSha256);
    // One file per migration, numbered as its place in the list, none left out of it.
    const files = readdirSync(join(import.meta.dirname, '../../electron/kernel/store/migrations')).sort();
    expect(files.map((f) => Number(/^(\d{4})-[a-z0-9-]+\.ts$/.exec(f)?.[1]))).toEqual(migrations.map((_, i) => i + 1));
  });

  it('moves a store at any earlier schema to the same schema as a new one', () => {
    const schemaOf = (db: Database.Database): unknown => db.prepare(`SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name`).all();
    const fresh = openStore(tempDir());
    const latest = schemaOf(fresh);
    fresh.close();
    for (let version = 1; version < migrations.length; version++) {
      const dir = tempDir();
      const raw = new Database(join(dir, storeFileName));
      for (const sql of migrations.slice(0, version)) raw.exec(sql);
      raw.pragma(`user_version = ${version}`);
      raw.close();
      const db = openStore(dir);
      expect(db.pragma('user_version', { simple: true })).toBe(migrations.length);
      expect(schemaOf(db), `from schema ${version}`).toEqual(latest);
      db.close();
    }
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
