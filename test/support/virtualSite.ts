/**
 * A site of N virtual Raspberry Pis for tests: real Debian bookworm systems booted with
 * systemd-nspawn (systemd as PID 1, real sshd, a `pi` user with passwordless sudo), each
 * with its own sshd port on 127.0.0.1, its own cgroup and its own persistent disk.
 * See test/support/README.md. Needs root, systemd-container and debootstrap; the first
 * run builds the cached rootfs (about 50 s).
 *
 *   const site = await startVirtualSite({ count: 3 });
 *   await site.pis[0].exec('sudo -n systemctl restart my.service');
 *   await site.stop();
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../../electron/kernel/net/freePort.ts';
import { createInstance, type BootTimings, type Instance } from './virtualSite/instance.ts';
import { sweepLeftovers } from './virtualSite/leftovers.ts';
import { ensureRootfs, piPassword, piUser, removeTree } from './virtualSite/rootfs.ts';
import { type ExecResult } from './virtualSite/sshExec.ts';
import { makeTempDir } from './tempDir.ts';

export { piPassword, piUser } from './virtualSite/rootfs.ts';
export type { ExecResult } from './virtualSite/sshExec.ts';

export type VirtualPi = {
  /** The hostname (`<name>-<n>`, from 1). */
  name: string;
  host: '127.0.0.1';
  sshPort: number;
  user: typeof piUser;
  /** `pi`'s login password (serial console); sudo needs none. */
  password: string;
  /** The laptop key authorised for `pi` (shared by the site's Pis). */
  privateKeyPath: string;
  publicKey: string;
  /** A known_hosts file that trusts every Pi of the site by its own host key. */
  knownHostsPath: string;
  /** This Pi's SSH host key, `ssh-ed25519 AAAA… root@<name>`. */
  hostKeyPublic: string;
  /** The console bridged to a PTY (open it as a serial port) when started with `serial`. */
  serialPath: string | null;
  /** This Pi's cgroup, one folder per hierarchy (gone after stop). */
  cgroupDirs: string[];
  /** Where the console goes when it is not bridged (boot messages, for debugging). */
  consoleLogPath: string;
  /** Timings of the last boot, from launching nspawn. */
  lastBoot: BootTimings & { state: string };
  /** Runs a command as `pi` over SSH; resolves with its exit code and output. */
  exec(command: string, options?: { input?: string; timeoutMs?: number }): Promise<ExecResult>;
  /** Powers off and boots again with the same disk, port and host key. */
  reboot(): Promise<void>;
  /** Powers off (SIGTERM to nspawn; SIGKILL after 15 s); the disk is kept until site.stop(). */
  stop(): Promise<{ stopMs: number; forced: boolean }>;
  running(): boolean;
};

export type VirtualSite = {
  pis: VirtualPi[];
  /** Stops every Pi and removes their disks, cgroups and the site's keys. */
  stop(): Promise<void>;
};

export type VirtualSiteOptions = {
  count: number;
  /** Hostname prefix: `vpi` gives vpi-1, vpi-2, … */
  name?: string;
  /** Bridge every Pi's console to a PTY (`serialPath`). */
  serial?: boolean;
};

/** Ports the OS has free now, distinct from each other. */
async function distinctPorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freePort());
  return [...ports];
}

export async function startVirtualSite(options: VirtualSiteOptions): Promise<VirtualSite> {
  const rootfs = await ensureRootfs();
  await sweepLeftovers();
  const prefix = options.name ?? 'vpi';
  const siteId = randomBytes(4).toString('hex');
  const siteDir = makeTempDir('fieldkit-site-').path;
  const privateKeyPath = join(siteDir, 'id_ed25519');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'fieldkit-laptop@virtual-site', '-f', privateKeyPath]);
  const publicKey = readFileSync(`${privateKeyPath}.pub`, 'utf8').trim();
  const knownHostsPath = join(siteDir, 'known_hosts');
  writeFileSync(knownHostsPath, '');
  const ports = await distinctPorts(options.count);

  const instances: Instance[] = ports.map((sshPort, i) =>
    createInstance({
      name: `${prefix}-${String(i + 1)}`,
      cgroupName: `fieldkit-site-${siteId}-${String(i + 1)}`,
      rootfs,
      siteDir,
      sshPort,
      laptopPublicKey: publicKey,
      privateKeyPath,
      knownHostsPath,
      serial: options.serial ?? false,
    }),
  );

  async function stopSite(): Promise<void> {
    const results = await Promise.allSettled(instances.map((instance) => instance.stop()));
    removeTree(siteDir);
    const failed = results.find((result) => result.status === 'rejected');
    if (failed) throw failed.reason;
  }

  const boots = await Promise.allSettled(instances.map((instance) => instance.boot()));
  const failed = boots.find((result) => result.status === 'rejected');
  if (failed) {
    await stopSite();
    throw failed.reason;
  }

  const pis = instances.map((instance, i): VirtualPi => {
    const boot = boots[i];
    let lastBoot = boot?.status === 'fulfilled' ? boot.value : { sshAcceptingMs: 0, runningMs: 0, state: '' };
    return {
      name: `${prefix}-${String(i + 1)}`,
      host: '127.0.0.1',
      sshPort: instance.target.port,
      user: piUser,
      password: piPassword,
      privateKeyPath,
      publicKey,
      knownHostsPath,
      get hostKeyPublic() {
        return instance.hostKeyPublic;
      },
      serialPath: instance.serialPath,
      consoleLogPath: instance.consoleLogPath,
      cgroupDirs: instance.cgroupDirs,
      get lastBoot() {
        return lastBoot;
      },
      exec: instance.exec,
      async reboot() {
        await instance.stop();
        lastBoot = await instance.boot();
      },
      stop: instance.stop,
      running: instance.running,
    };
  });
  return { pis, stop: stopSite };
}
