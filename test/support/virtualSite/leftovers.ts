/**
 * Best-effort cleanup after a test process that was killed (kill -9, a crashed worker)
 * before it could stop its virtual Pis: each running instance is recorded in a registry
 * with the pid and start time of the process that owns it, and every new site first
 * tears down the instances whose owner is gone (their containers, cgroups, overlay
 * mounts and folders).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { killAndRemove } from './cgroups.ts';
import { removeTree } from './rootfs.ts';

const registry = existsSync('/run') ? '/run/fieldkit-virtual-site' : '/tmp/fieldkit-virtual-site';

type Entry = { ownerPid: number; ownerStart: string; machineName: string; cgroupDirs: string[]; instanceDir: string; siteDir: string };

/** Field 22 of /proc/<pid>/stat: tells a live owner from a reused pid. */
function startTimeOf(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${String(pid)}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

export function recordInstance(key: string, entry: Omit<Entry, 'ownerPid' | 'ownerStart'>): void {
  mkdirSync(registry, { recursive: true });
  const full: Entry = { ownerPid: process.pid, ownerStart: startTimeOf(process.pid) ?? '', ...entry };
  writeFileSync(join(registry, `${key}.json`), JSON.stringify(full));
}

export function forgetInstance(key: string): void {
  rmSync(join(registry, `${key}.json`), { force: true });
}

/** Tears down the instances of owners that no longer run; returns how many. */
export async function sweepLeftovers(): Promise<number> {
  if (!existsSync(registry)) return 0;
  let swept = 0;
  for (const file of readdirSync(registry)) {
    let entry: Entry;
    try {
      entry = JSON.parse(readFileSync(join(registry, file), 'utf8')) as Entry;
    } catch {
      continue; // being written right now
    }
    if (startTimeOf(entry.ownerPid) === entry.ownerStart) continue;
    await killAndRemove(entry.cgroupDirs);
    removeTree(entry.instanceDir);
    // nspawn removes this itself when it exits normally; it was killed.
    try {
      rmdirSync(join('/run/systemd/nspawn/propagate', entry.machineName));
    } catch {
      // not there (or not empty: leave it)
    }
    rmSync(join(registry, file), { force: true });
    // The site folder (its key pair) goes with its last instance.
    if (existsSync(entry.siteDir) && readdirSync(entry.siteDir).every((name) => !name.startsWith('pi-'))) removeTree(entry.siteDir);
    swept++;
  }
  return swept;
}
