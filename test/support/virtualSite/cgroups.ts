/**
 * A cgroup of its own for each virtual Pi. There is no host systemd to hand nspawn a
 * scope, so the launcher moves itself into a fresh cgroup before exec'ing nspawn;
 * otherwise every instance's services land in one shared tree and systemd in one
 * container sees (and stops) another's. Hierarchies that matter: the named v1 `systemd`
 * one and the v2 one (mounted at /sys/fs/cgroup/unified on a hybrid host like this one,
 * or at /sys/fs/cgroup on a pure v2 host).
 */
import { readdirSync, readFileSync, rmdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** The mount points of the hierarchies an instance gets its own cgroup in. */
export function cgroupHierarchies(): string[] {
  const points: string[] = [];
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    // mountinfo: ... mount-point ... - fstype source super-options
    const [before, after] = line.split(' - ');
    if (!before || !after) continue;
    const point = before.split(' ')[4] ?? '';
    const [fstype, , options = ''] = after.split(' ');
    if (fstype === 'cgroup2') points.push(point);
    else if (fstype === 'cgroup' && options.split(',').includes('name=systemd')) points.push(point);
  }
  if (points.length === 0) throw new Error('no cgroup2 or name=systemd cgroup hierarchy is mounted: systemd-nspawn cannot boot a container here');
  return points;
}

/** The cgroup folders (one per hierarchy) for an instance's cgroup name. */
export function cgroupDirs(cgroupName: string): string[] {
  return cgroupHierarchies().map((point) => join(point, cgroupName));
}

/** Every folder of the tree under `dir`, deepest first (empty when it does not exist). */
function treeDeepestFirst(dir: string): string[] {
  let children: string[];
  try {
    children = readdirSync(dir, { withFileTypes: true })
      .filter((entry) => entry.isDirectory())
      .map((entry) => join(dir, entry.name));
  } catch {
    return [];
  }
  return [...children.flatMap(treeDeepestFirst), dir];
}

/** The (host) pids in the tree under `dir`. */
export function pidsIn(dir: string): number[] {
  const pids = new Set<number>();
  for (const cgroup of treeDeepestFirst(dir)) {
    try {
      for (const pid of readFileSync(join(cgroup, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean)) pids.add(Number(pid));
    } catch {
      // removed meanwhile
    }
  }
  return [...pids];
}

export function cgroupExists(dir: string): boolean {
  try {
    return statSync(dir).isDirectory();
  } catch {
    return false;
  }
}

/**
 * SIGKILLs everything left in the trees, then removes them, deepest first. Used after
 * nspawn exited (normally nothing is left) and to sweep a killed run's instances.
 */
export async function killAndRemove(dirs: string[], timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const pids = dirs.flatMap(pidsIn);
    if (pids.length === 0) break;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    if (Date.now() > deadline) throw new Error(`processes ${pids.join(', ')} in ${dirs.join(', ')} survived SIGKILL`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  for (const dir of dirs) {
    for (const cgroup of treeDeepestFirst(dir)) {
      // A cgroup whose last process just died can stay busy for a moment.
      for (let attempt = 0; ; attempt++) {
        try {
          rmdirSync(cgroup);
          break;
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code === 'ENOENT') break;
          if (attempt >= 40) throw error;
          await new Promise((resolve) => setTimeout(resolve, 25));
        }
      }
    }
  }
}
