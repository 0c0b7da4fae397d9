/**
 * The Debian root filesystem every virtual Pi boots from: debootstrap once (about 50 s),
 * then cached by the hash of its recipe, so a changed recipe builds a new one and an
 * unchanged one is reused by every run and every test file.
 *
 * Built under an exclusive flock (two test files starting together build it once), in a
 * temporary folder renamed into place when complete: a half-built tree is never used.
 *
 * Runnable on its own (CI starts it in the background before `npm ci`):
 *   node test/support/virtualSite/rootfs.ts
 */
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const piUser = 'pi';
/** The `pi` login password (serial console logins); sudo needs none. */
export const piPassword = 'raspberry';
export const piUid = 1000;

const suite = 'bookworm';
const packages = ['systemd', 'systemd-sysv', 'dbus', 'openssh-server', 'iproute2', 'sudo'];

/**
 * Run in a chroot of the fresh tree. Timers and units that would reach the network or
 * only slow boot are masked (instances share the host's network namespace). Per-instance
 * identity (hostname, machine-id, SSH host key) is written by each instance, so the
 * shared copies are removed here.
 */
const customize = `set -eu
useradd --create-home --shell /bin/bash --uid ${String(piUid)} --groups sudo,video ${piUser}
echo '${piUser}:${piPassword}' | chpasswd
echo '${piUser} ALL=(ALL) NOPASSWD:ALL' > /etc/sudoers.d/010_pi-nopasswd
chmod 0440 /etc/sudoers.d/010_pi-nopasswd
for unit in apt-daily.timer apt-daily-upgrade.timer dpkg-db-backup.timer e2scrub_all.timer fstrim.timer e2scrub_reap.service systemd-pstore.service; do
  systemctl mask "$unit" >/dev/null 2>&1
done
rm -f /etc/ssh/ssh_host_*_key /etc/ssh/ssh_host_*_key.pub /etc/hostname
: > /etc/machine-id
apt-get clean
rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/*.log
`;

const recipeHash = createHash('sha256')
  .update(JSON.stringify({ suite, variant: 'minbase', packages, customize }))
  .digest('hex')
  .slice(0, 12);

function cacheRoot(): string {
  const base = process.env['XDG_CACHE_HOME'] ?? join(homedir(), '.cache');
  return join(base, 'fieldkit-test');
}

/** Where the cached tree for the current recipe lives (complete when `.complete` exists). */
export function rootfsPath(): string {
  return join(cacheRoot(), `rootfs-${suite}-${recipeHash}`);
}

function lockPath(): string {
  return join(cacheRoot(), 'rootfs.lock');
}

function isComplete(path: string): boolean {
  return existsSync(join(path, '.complete'));
}

/** This machine's Debian mirror: FIELDKIT_DEBIAN_MIRROR, else the one apt uses for the suite. */
function mirror(): string {
  const fromEnv = process.env['FIELDKIT_DEBIAN_MIRROR'];
  if (fromEnv) return fromEnv;
  for (const file of ['/etc/apt/sources.list.d/debian.sources', '/etc/apt/sources.list']) {
    if (!existsSync(file)) continue;
    const text = readFileSync(file, 'utf8');
    const deb822 = /^URIs:\s*(\S+\/debian)\/?\s*$/m.exec(text);
    if (deb822?.[1]) return deb822[1];
    const oneLine = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+\/debian)\/?\s+bookworm\s/m.exec(text);
    if (oneLine?.[1]) return oneLine[1];
  }
  return 'http://deb.debian.org/debian';
}

/** Unmounts anything left mounted below `dir` (a killed debootstrap leaves /proc and /sys). */
function unmountBelow(dir: string): void {
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[4] ?? '')
    .filter((point) => point === dir || point.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
  for (const point of mounts) execFileSync('umount', ['-l', point]);
}

/** Removes a tree without ever crossing into a mounted filesystem. */
export function removeTree(dir: string): void {
  if (!existsSync(dir)) return;
  unmountBelow(dir);
  execFileSync('rm', ['-rf', '--one-file-system', dir]);
}

/** The descriptor flock(1) handed us with the lock on it, if any. */
function inheritedLockFd(lock: string): number | null {
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`) === lock) return Number(fd);
    } catch {
      // closed meanwhile (readdir's own descriptor)
    }
  }
  return null;
}

/** `holdFd` is passed down as the child's fd 3, so the lock lives as long as the child. */
function run(command: string, args: string[], log: string, holdFd: number | null = null): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: holdFd === null ? ['ignore', 'pipe', 'pipe'] : ['ignore', 'pipe', 'pipe', holdFd] });
    let output = '';
    const keep = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-8000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    child.once('error', reject);
    child.once('exit', (code) => {
      writeFileSync(log, output);
      if (code === 0) resolve();
      else reject(new Error(`${command} ${args.join(' ')} exited ${String(code)}; last output:\n${output}`));
    });
  });
}

/** Builds the tree for the current recipe; call only while holding the lock. */
async function buildLocked(): Promise<void> {
  const final = rootfsPath();
  if (isComplete(final)) return;
  const root = cacheRoot();
  // Holding the lock, nobody else is building: anything partial is a killed build's.
  for (const entry of readdirSync(root)) {
    if (entry.startsWith('rootfs-') && entry !== `rootfs-${suite}-${recipeHash}`) {
      removeTree(join(root, entry));
    }
  }
  removeTree(final);
  const building = `${final}.building`;
  const log = join(root, 'debootstrap.log');
  // If this process is killed, debootstrap carries on writing into `building`: it must
  // keep the lock until it exits, or the next builder would clear the tree under it.
  const lockFd = inheritedLockFd(lockPath());
  await run('debootstrap', ['--variant=minbase', `--include=${packages.join(',')}`, suite, building, mirror()], log, lockFd);
  await run('chroot', [building, '/bin/sh', '-c', customize], log, lockFd);
  writeFileSync(join(building, '.complete'), `${new Date().toISOString()}\n`);
  renameSync(building, final);
}

/**
 * The cached rootfs path, building it first if needed (about 50 s). Waits for a build
 * another process holds the lock for.
 */
export async function ensureRootfs(): Promise<string> {
  const final = rootfsPath();
  if (isComplete(final)) return final;
  mkdirSync(cacheRoot(), { recursive: true });
  const lock = lockPath();
  // flock(1) holds the lock for the child's lifetime and the kernel drops it if we die.
  await run('flock', ['--exclusive', lock, process.execPath, fileURLToPath(import.meta.url), '--locked'], join(cacheRoot(), 'build.log'));
  if (!isComplete(final)) throw new Error(`the virtual site rootfs was not built; see ${join(cacheRoot(), 'debootstrap.log')}`);
  return final;
}

const invokedDirectly = process.argv[1] === fileURLToPath(import.meta.url);
if (invokedDirectly) {
  const started = performance.now();
  const work = process.argv.includes('--locked') ? buildLocked().then(rootfsPath) : ensureRootfs();
  work.then(
    (path) => {
      console.log(`virtual site rootfs ready at ${path} (${((performance.now() - started) / 1000).toFixed(1)} s)`);
    },
    (error: unknown) => {
      console.error(error);
      process.exitCode = 1;
    },
  );
}
