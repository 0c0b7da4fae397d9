/**
 * The regular files under a path a class names: the file itself, or a folder walked
 * recursively in name order. A path named outright is followed if it is a symlink (a
 * technician pointing at /data/current means what it points at); inside a folder, symlinks,
 * sockets, FIFOs and devices are skipped and reported through `note`, so a link cannot pull
 * the walk out of the folder or round in a loop. A path that is not there is `missing`; one
 * that cannot be read is an error (a backup without it would claim more than it holds).
 */
import { lstatSync, readdirSync, statSync, type Stats } from 'node:fs';
import { join } from 'node:path';

export type WalkedFile = { path: string; stat: Stats };

export type WalkEvents = { missing(path: string): void; note(message: string): void };

function unreadable(path: string, error: unknown): Error {
  const code = (error as { code?: unknown }).code;
  const detail = error instanceof Error ? error.message : String(error);
  return Object.assign(new Error(`Cannot read ${path}: ${detail}`), {
    hint: code === 'EACCES' || code === 'EPERM' ? 'Run it as root (sudo -n fieldkit-agent backup-stream …): this class holds files only root may read.' : `Check ${path} on the device (a failing disk shows I/O errors in dmesg).`,
  });
}

function kindOf(stat: Stats): string {
  if (stat.isSymbolicLink()) return 'a symlink';
  if (stat.isSocket()) return 'a socket';
  if (stat.isFIFO()) return 'a FIFO';
  return 'a device or other special file';
}

function* walkFolder(dir: string, events: WalkEvents): Generator<WalkedFile> {
  let names: string[];
  try {
    names = readdirSync(dir).sort();
  } catch (error) {
    throw unreadable(dir, error);
  }
  for (const name of names) {
    const path = join(dir, name);
    let stat: Stats;
    try {
      stat = lstatSync(path);
    } catch (error) {
      // Gone between readdir and lstat (a temp file of the app): it was never part of this backup.
      if ((error as { code?: unknown }).code === 'ENOENT') continue;
      throw unreadable(path, error);
    }
    if (stat.isDirectory()) yield* walkFolder(path, events);
    else if (stat.isFile()) yield { path, stat };
    else events.note(`skipped ${path}: ${kindOf(stat)} inside a folder is not backed up`);
  }
}

/** Every regular file at or under `path`. */
export function* walkFiles(path: string, events: WalkEvents): Generator<WalkedFile> {
  let stat: Stats;
  try {
    stat = statSync(path);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      events.missing(path);
      return;
    }
    throw unreadable(path, error);
  }
  if (stat.isDirectory()) yield* walkFolder(path, events);
  else if (stat.isFile()) yield { path, stat };
  else events.note(`skipped ${path}: ${kindOf(stat)} is not backed up`);
}
