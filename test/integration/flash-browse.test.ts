/**
 * flash.browse, the Flash screen's file picker: what a folder lists (folders, then images by
 * kind; hidden and other files left out), the default folder, the images picked before, and
 * each way a folder can fail to list — through the dispatcher and the CLI.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { dispatch } from '../../electron/kernel/api/dispatch.ts';
import { createAppServices, type AppServices } from '../../electron/app/appServices.ts';
import { browseImages, defaultBrowseDir, imageKindOf } from '../../electron/flash/browseImages.ts';
import { recentImages, rememberRecentImage } from '../../electron/flash/recentImagesStore.ts';
import { openStore } from '../../electron/kernel/store/openStore.ts';
import { runCliProcess } from '../support/runCliProcess.ts';
import { makeTempDir } from '../support/tempDir.ts';

describe('flash.browse', () => {
  const tmp = makeTempDir('fieldkit-browse-');
  const images = join(tmp.path, 'images');
  const dataDir = join(tmp.path, 'data');
  let services: AppServices;

  beforeAll(async () => {
    mkdirSync(join(images, 'older releases'), { recursive: true });
    mkdirSync(join(images, '.cache'));
    writeFileSync(join(images, 'node-os-1.4.fkimg'), Buffer.alloc(3000));
    writeFileSync(join(images, 'raspios.img.xz'), Buffer.alloc(1200));
    writeFileSync(join(images, 'RAW.IMG'), Buffer.alloc(512));
    writeFileSync(join(images, 'disk.img.zst'), '');
    writeFileSync(join(images, 'disk.img.gz'), '');
    writeFileSync(join(images, 'notes.txt'), 'not an image');
    writeFileSync(join(images, 'image.iso'), 'not ours');
    writeFileSync(join(images, '.hidden.fkimg'), 'hidden');
    symlinkSync(join(images, 'gone.img'), join(images, 'dangling.img'));
    utimesSync(join(images, 'node-os-1.4.fkimg'), new Date('2026-03-01T10:00:00Z'), new Date('2026-03-01T10:00:00Z'));
    services = await createAppServices({ dataDir, version: 'test' });
  });
  afterAll(async () => {
    await services.close();
    tmp.remove();
  });

  it('lists folders first, then image files with kind, size and mtime; hidden, dangling and other files left out', async () => {
    const listing = await services.handlers['flash.browse']({ dir: images });
    expect(listing.dir).toBe(images);
    expect(listing.parent).toBe(tmp.path);
    expect(listing.entries.map((e) => [e.name, e.kind, e.bytes])).toEqual([
      ['older releases', 'dir', null],
      ['disk.img.gz', 'plain', 0],
      ['disk.img.zst', 'plain', 0],
      ['node-os-1.4.fkimg', 'signed', 3000],
      ['raspios.img.xz', 'plain', 1200],
      ['RAW.IMG', 'plain', 512],
    ]);
    const signed = listing.entries.find((e) => e.kind === 'signed');
    expect(signed?.path).toBe(join(images, 'node-os-1.4.fkimg'));
    expect(signed?.modifiedMs).toBe(Date.parse('2026-03-01T10:00:00Z'));
  });

  it('names image kinds by extension, case-insensitively', () => {
    expect(['a.fkimg', 'a.FKIMG', 'a.img', 'a.img.xz', 'a.img.gz', 'a.img.zst', 'a.xz', 'a.iso', 'img'].map(imageKindOf)).toEqual([
      'signed',
      'signed',
      'plain',
      'plain',
      'plain',
      'plain',
      null,
      null,
      null,
    ]);
  });

  it('opens in Downloads when there is one, else in home; the root has no parent', async () => {
    const home = join(tmp.path, 'home');
    mkdirSync(home);
    expect(defaultBrowseDir(home)).toBe(home);
    mkdirSync(join(home, 'Downloads'));
    expect(defaultBrowseDir(home)).toBe(join(home, 'Downloads'));
    const root = await services.handlers['flash.browse']({ dir: '/' });
    expect(root.parent).toBeNull();
    expect(root.entries.some((e) => e.name === 'tmp' && e.kind === 'dir')).toBe(true);
  });

  it('opens the folder of a file given as the folder (the path field held a file)', async () => {
    for (const file of ['notes.txt', 'node-os-1.4.fkimg']) {
      const listing = await services.handlers['flash.browse']({ dir: join(images, file) });
      expect(listing.dir).toBe(images);
      expect(listing.entries.map((e) => e.name)).toContain('raspios.img.xz');
    }
  });

  it('refuses a missing folder (NOT_FOUND) and a relative path, each with what to do', async () => {
    const missing = await dispatch(services.handlers, 'flash.browse', { dir: join(images, 'nope') });
    expect(missing).toMatchObject({ ok: false, error: { code: 'NOT_FOUND', field: 'dir' } });
    if (!missing.ok) expect(missing.error.hint).toMatch(/Pick another folder/);
    const relative = await dispatch(services.handlers, 'flash.browse', { dir: 'images' });
    expect(relative).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST', field: 'dir' } });
  });

  it('refuses a folder the user may not read with PERMISSION_DENIED', () => {
    // Root reads everything; the check runs as nobody in a child process.
    const locked = join(tmp.path, 'locked');
    mkdirSync(locked, { mode: 0o700 });
    chmodSync(tmp.path, 0o755);
    const script = `
      process.setgid(65534); process.setuid(65534);
      const { browseImages } = await import(${JSON.stringify(join(process.cwd(), 'electron/flash/browseImages.ts'))});
      try { await browseImages(null, ${JSON.stringify(locked)}); console.log('listed'); }
      catch (e) { console.log(JSON.stringify(e.appError)); }`;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    const error = JSON.parse(out) as { code: string; message: string; hint: string };
    expect(error.code).toBe('PERMISSION_DENIED');
    expect(error.message).toContain(locked);
    expect(error.hint).toMatch(/readable|can read/);
  });

  it('offers images picked before, newest first, only while they exist, and keeps the newest 12', async () => {
    const db = openStore(join(tmp.path, 'store'));
    onTestFinished(() => {
      db.close();
    });
    rememberRecentImage(db, join(images, 'raspios.img.xz'), 1000);
    rememberRecentImage(db, join(images, 'node-os-1.4.fkimg'), 2000);
    rememberRecentImage(db, join(images, 'raspios.img.xz'), 3000);
    expect((await browseImages(db, images)).recent).toEqual([join(images, 'raspios.img.xz'), join(images, 'node-os-1.4.fkimg')]);
    rmSync(join(images, 'raspios.img.xz'));
    expect(recentImages(db)).toEqual([join(images, 'node-os-1.4.fkimg')]);
    writeFileSync(join(images, 'raspios.img.xz'), Buffer.alloc(1200));
    for (let i = 0; i < 14; i++) {
      writeFileSync(join(tmp.path, `r${i}.img`), '');
      rememberRecentImage(db, join(tmp.path, `r${i}.img`), 10_000 + i);
    }
    const recent = recentImages(db);
    expect(recent).toHaveLength(12);
    expect(recent[0]).toBe(join(tmp.path, 'r13.img'));
    expect(recent).not.toContain(join(images, 'node-os-1.4.fkimg'));
  });

  it('lists through the CLI: `fieldkit image list DIR`, human and --json', async () => {
    const human = await runCliProcess(['--data-dir', join(tmp.path, 'cli-data'), 'image', 'list', images]);
    expect(human.code).toBe(0);
    expect(human.stdout).toContain('older releases/');
    expect(human.stdout).toMatch(/signed\s+3\.0 kB\s+2026-03-01 10:00\s+node-os-1\.4\.fkimg/);
    expect(human.stdout).not.toContain('notes.txt');
    const json = await runCliProcess(['--json', '--data-dir', join(tmp.path, 'cli-data'), 'image', 'list', images]);
    expect(JSON.parse(json.stdout)).toMatchObject({ dir: images, recent: [] });
    const missing = await runCliProcess(['--data-dir', join(tmp.path, 'cli-data'), 'image', 'list', join(images, 'nope')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('does not exist');
  });
});
