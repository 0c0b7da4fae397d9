/**
 * `flash.browse`: a folder of this computer as the Flash screen's file picker sees it —
 * subfolders and image files only — and the images picked before. The renderer cannot read
 * the disk itself (it may be a browser on the web host), so the listing happens here.
 */
import { readdir, stat } from 'node:fs/promises';
import { statSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import type { ResponseOf } from '../../shared/api.ts';
import { appError, FieldkitError } from '../../shared/errors.ts';
import { plainImageExtensions } from '../../shared/flash.ts';
import type { Store } from '../kernel/store/openStore.ts';
import { recentImages } from './recentImagesStore.ts';

export type BrowseListing = ResponseOf<'flash.browse'>;
export type BrowseEntry = BrowseListing['entries'][number];

/** 'signed' for a fieldkit image, 'plain' for a raw/compressed disk image, else null. */
export function imageKindOf(fileName: string): 'signed' | 'plain' | null {
  const lower = fileName.toLowerCase();
  if (lower.endsWith('.fkimg')) return 'signed';
  return plainImageExtensions.some((ext) => lower.endsWith(ext)) ? 'plain' : null;
}

/** Where the picker opens: Downloads, where images usually land, else home. */
export function defaultBrowseDir(home: string = homedir()): string {
  const downloads = path.join(home, 'Downloads');
  try {
    if (statSync(downloads).isDirectory()) return downloads;
  } catch {
    // no Downloads folder: home it is
  }
  return home;
}

/**
 * Lists `dir` (absolute; the default folder when absent; a file's own folder when it names a
 * file): folders first, then images,
 * each by name. Hidden entries and other files are left out; an entry that vanishes or
 * cannot be read while listing is skipped rather than failing the whole folder.
 */
export async function browseImages(db: Store, dir?: string): Promise<BrowseListing> {
  const folder = dir === undefined ? defaultBrowseDir() : dir;
  if (!path.isAbsolute(folder)) {
    throw new FieldkitError(appError('BAD_REQUEST', `"${folder}" is not an absolute folder path.`, 'Give the full path of a folder, such as /home/you/Downloads.', 'dir'));
  }
  const resolved = await folderOf(path.resolve(folder));
  const names = await readFolder(resolved);
  const entries: BrowseEntry[] = [];
  await Promise.all(
    names.map(async (name) => {
      if (name.startsWith('.')) return;
      const full = path.join(resolved, name);
      try {
        // stat, not lstat: a symlinked image or folder is shown as what it points to.
        const info = await stat(full);
        if (info.isDirectory()) {
          entries.push({ name, path: full, kind: 'dir', bytes: null, modifiedMs: info.mtimeMs });
          return;
        }
        const kind = info.isFile() ? imageKindOf(name) : null;
        if (kind !== null) entries.push({ name, path: full, kind, bytes: info.size, modifiedMs: info.mtimeMs });
      } catch {
        // gone since readdir, a dangling link, or unreadable: not something to pick
      }
    }),
  );
  entries.sort((a, b) => (a.kind === 'dir' ? 0 : 1) - (b.kind === 'dir' ? 0 : 1) || a.name.localeCompare(b.name, 'en', { numeric: true }));
  const parent = path.dirname(resolved);
  return { dir: resolved, parent: parent === resolved ? null : parent, entries, recent: recentImages(db) };
}

/**
 * The folder to list for `target`: itself, or, when the path field held a file (the image
 * picked last time, a README next to it), the folder that file is in. Anything else (missing,
 * unreadable) is left for readFolder to explain.
 */
async function folderOf(target: string): Promise<string> {
  try {
    return (await stat(target)).isDirectory() ? target : path.dirname(target);
  } catch {
    return target;
  }
}

async function readFolder(folder: string): Promise<string[]> {
  try {
    return await readdir(folder);
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new FieldkitError(appError('NOT_FOUND', `The folder ${folder} does not exist.`, 'Pick another folder, or check the path for a typo.', 'dir'), { cause });
    }
    if (code === 'ENOTDIR') {
      throw new FieldkitError(appError('BAD_REQUEST', `${folder} is a file, not a folder.`, 'Give the folder that holds the image, or pick the file from its folder.', 'dir'), { cause });
    }
    if (code === 'EACCES' || code === 'EPERM') {
      throw new FieldkitError(
        appError('PERMISSION_DENIED', `fieldkit may not read the folder ${folder}.`, 'Pick a folder your user can read, or copy the image to Downloads.', 'dir'),
        { cause },
      );
    }
    throw new FieldkitError(appError('IO_ERROR', `Cannot list ${folder}: ${cause instanceof Error ? cause.message : String(cause)}`, 'Check the disk and try again.', 'dir'), {
      cause,
    });
  }
}
