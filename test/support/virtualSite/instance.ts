/**
 * One virtual Pi: the cached rootfs booted with systemd-nspawn (real systemd as PID 1,
 * real sshd) on a writable overlay of its own.
 *
 * Why a persistent overlay rather than nspawn's --volatile=overlay: a deploy writes far
 * more than /opt/fieldkit-agent and /var/lib/fieldkit-agent — the systemd unit in
 * /etc/systemd/system, /etc/fieldkit-agent, a system user in /etc/passwd, and provisioning
 * changes the hostname and authorised keys. All of it must survive a reboot as it would
 * on an SD card, so the overlay's upper layer is a folder per instance, kept across
 * reboot() and removed with the site. The cached rootfs is the read-only lower layer.
 *
 * Network: the host's namespace (no private network), sshd listening on 127.0.0.1 only
 * at the instance's own port; the rootfs masks every timer that would reach out.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, chmodSync, chownSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { cgroupDirs, killAndRemove } from './cgroups.ts';
import { forgetInstance, recordInstance } from './leftovers.ts';
import { piUid, piUser } from './rootfs.ts';
import { sshExec, type ExecResult, type SshTarget } from './sshExec.ts';

export type InstanceSpec = {
  /** Hostname and machine name. */
  name: string;
  /** Unique on the machine (sites run in parallel test files): the cgroup and nspawn machine name. */
  cgroupName: string;
  rootfs: string;
  siteDir: string;
  sshPort: number;
  laptopPublicKey: string;
  privateKeyPath: string;
  knownHostsPath: string;
  /** Bridge the console to a PTY (a "serial port") instead of logging it to a file. */
  serial: boolean;
  /** Read-only layers over the rootfs (first on top), asked at each boot: the A/B firmware harness lays the booted slot here. */
  lowerDirs?: () => string[];
  /** More systemd-nspawn arguments, asked at each boot (the A/B harness binds its disk). */
  nspawnArgs?: () => string[];
  /** The container ended by itself (a reboot or poweroff inside it), not by stop(): nspawn's exit code (133 = reboot). */
  onExit?: (code: number | null) => void;
};

export type BootTimings = { sshAcceptingMs: number; runningMs: number };

export type Instance = {
  dir: string;
  /** The PTY path of the console when `serial` (stable across reboots). */
  serialPath: string | null;
  consoleLogPath: string;
  cgroupDirs: string[];
  hostKeyPublic: string;
  target: SshTarget;
  boot: () => Promise<BootTimings & { state: string }>;
  stop: () => Promise<{ stopMs: number; forced: boolean }>;
  running: () => boolean;
  exec: (command: string, options?: { input?: string; timeoutMs?: number }) => Promise<ExecResult>;
};

const stopTimeoutMs = 15_000;

function mountOverlay(rootfs: string, dir: string, above: string[] = []): void {
  for (const sub of ['upper', 'work', 'root']) mkdirSync(join(dir, sub), { recursive: true });
  execFileSync('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${[...above, rootfs].join(':')},upperdir=${join(dir, 'upper')},workdir=${join(dir, 'work')}`, join(dir, 'root')]);
}

function unmount(point: string): void {
  try {
    execFileSync('umount', [point], { stdio: 'ignore' });
  } catch {
    // Still busy for a moment after the container went: detach it, it frees itself.
    try {
      execFileSync('umount', ['-l', point], { stdio: 'ignore' });
    } catch {
      // not mounted
    }
  }
}

/** Writes the instance's identity into its upper layer, once, like a freshly flashed card. */
function writeIdentity(spec: InstanceSpec, root: string): void {
  writeFileSync(join(root, 'etc/hostname'), `${spec.name}\n`);
  writeFileSync(join(root, 'etc/hosts'), `127.0.0.1\tlocalhost\n127.0.1.1\t${spec.name}\n::1\tlocalhost ip6-localhost ip6-loopback\n`);
  writeFileSync(join(root, 'etc/machine-id'), `${randomBytes(16).toString('hex')}\n`);
  const hostKey = join(root, 'etc/ssh/ssh_host_ed25519_key');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `root@${spec.name}`, '-f', hostKey]);
  writeFileSync(
    join(root, 'etc/ssh/sshd_config.d/10-virtual-site.conf'),
    ['# This virtual Pi\'s own port on the host\'s loopback (see test/support/virtualSite).', `Port ${String(spec.sshPort)}`, 'ListenAddress 127.0.0.1', 'HostKey /etc/ssh/ssh_host_ed25519_key', ''].join('\n'),
  );
  const ssh = join(root, 'home', piUser, '.ssh');
  mkdirSync(ssh, { recursive: true, mode: 0o700 });
  chmodSync(ssh, 0o700);
  writeFileSync(join(ssh, 'authorized_keys'), `${spec.laptopPublicKey.trim()}\n`, { mode: 0o600 });
  chownSync(ssh, piUid, piUid);
  chownSync(join(ssh, 'authorized_keys'), piUid, piUid);
}

/** Resolves when something on the port speaks SSH. */
function waitForBanner(port: number, deadline: number, exited: () => boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const socket = connect(port, '127.0.0.1');
      socket.once('data', (data) => {
        socket.destroy();
        if (data.toString().startsWith('SSH-')) resolve();
        else reject(new Error(`port ${String(port)} answered, but not with an SSH banner`));
      });
      socket.once('error', () => {
        socket.destroy();
        if (exited()) reject(new Error('the container exited before sshd accepted'));
        else if (Date.now() > deadline) reject(new Error(`sshd did not accept on 127.0.0.1:${String(port)}`));
        else setTimeout(attempt, 20);
      });
    };
    attempt();
  });
}

function tail(path: string, bytes = 3000): string {
  try {
    const text = readFileSync(path, 'latin1');
    return text.slice(-bytes);
  } catch {
    return '';
  }
}

export function createInstance(spec: InstanceSpec): Instance {
  const dir = join(spec.siteDir, `pi-${spec.name}`);
  const root = join(dir, 'root');
  const consoleLogPath = join(dir, 'console.log');
  const serialPath = spec.serial ? join(dir, 'ttyAMA0') : null;
  const pidFile = join(dir, 'nspawn.pid');
  const cgroups = cgroupDirs(spec.cgroupName);
  const target: SshTarget = { host: '127.0.0.1', port: spec.sshPort, user: piUser, privateKeyPath: spec.privateKeyPath, knownHostsPath: spec.knownHostsPath };
  let child: ChildProcess | null = null;
  let stopping = false;
  let exitedAt: Promise<void> = Promise.resolve();
  let hostKeyPublic = '';

  async function boot(): Promise<BootTimings & { state: string }> {
    if (child) throw new Error(`${spec.name} is already running`);
    const fresh = !existsSync(join(dir, 'upper'));
    mkdirSync(dir, { recursive: true });
    recordInstance(spec.cgroupName, { machineName: spec.cgroupName, cgroupDirs: cgroups, instanceDir: dir, siteDir: spec.siteDir });
    mountOverlay(spec.rootfs, dir, spec.lowerDirs?.());
    if (fresh) writeIdentity(spec, root);
    hostKeyPublic = readFileSync(join(root, 'etc/ssh/ssh_host_ed25519_key.pub'), 'utf8').trim();
    if (fresh) appendFileSync(spec.knownHostsPath, `[127.0.0.1]:${String(spec.sshPort)} ${hostKeyPublic.split(' ').slice(0, 2).join(' ')}\n`);
    rmSync(pidFile, { force: true });

    const nspawn = [
      'systemd-nspawn', '--boot', '--register=no', '--keep-unit', '--quiet', '--link-journal=no',
      `--console=${spec.serial ? 'interactive' : 'read-only'}`,
      // A machine name unique on the host (nspawn keeps per-machine state under
      // /run/systemd/nspawn), the hostname from /etc/hostname as on a Pi.
      '-D', root, '-M', spec.cgroupName, `--hostname=${spec.name}`,
      ...(spec.nspawnArgs?.() ?? []),
    ];
    // The launcher enters the instance's own cgroups, then becomes nspawn (same pid).
    const launcher = join(dir, 'boot.sh');
    writeFileSync(
      launcher,
      [
        '#!/bin/sh',
        'set -e',
        ...cgroups.map((cg) => `mkdir -p '${cg}' && echo $$ > '${cg}/cgroup.procs'`),
        `echo $$ > '${pidFile}'`,
        `exec ${nspawn.map((arg) => `'${arg}'`).join(' ')}`,
        '',
      ].join('\n'),
      { mode: 0o755 },
    );
    const started = performance.now();
    const log = openSync(consoleLogPath, 'a');
    // detached: a Ctrl-C on the test's terminal must not reach nspawn (it would forward it
    // to the container as a reboot request); stop() powers it off instead.
    child = serialPath
      ? spawn('socat', [`pty,link=${serialPath},raw,echo=0`, `exec:${launcher},pty,setsid,ctty,stderr`], { stdio: ['ignore', log, log], detached: true })
      : spawn(launcher, [], { stdio: ['ignore', log, log], detached: true });
    closeSync(log);
    const running = child;
    let exited = false;
    exitedAt = new Promise((resolve) => {
      running.once('exit', (code) => {
        exited = true;
        resolve();
        if (!stopping && child === running) spec.onExit?.(code);
      });
    });

    try {
      await waitForBanner(spec.sshPort, Date.now() + 30_000, () => exited);
      const sshAcceptingMs = performance.now() - started;
      const result = await sshExec(target, 'systemctl is-system-running --wait', { timeoutMs: 30_000 });
      const state = result.stdout.trim();
      if (state !== 'running' && state !== 'degraded') throw new Error(`systemctl is-system-running says "${state}" ${result.stderr}`);
      return { sshAcceptingMs, runningMs: performance.now() - started, state };
    } catch (error) {
      await stop();
      throw new Error(`virtual Pi ${spec.name} did not boot: ${(error as Error).message}\nconsole:\n${tail(consoleLogPath)}`, { cause: error });
    }
  }

  async function stop(): Promise<{ stopMs: number; forced: boolean }> {
    const started = performance.now();
    let forced = false;
    stopping = true;
    if (child) {
      const pid = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8')) : child.pid;
      // SIGTERM to nspawn is a clean poweroff of the container (SIGRTMIN+3 to its init).
      try {
        if (pid) process.kill(pid, 'SIGTERM');
      } catch {
        // already gone
      }
      const done = await Promise.race([exitedAt.then(() => true), new Promise<boolean>((resolve) => setTimeout(() => { resolve(false); }, stopTimeoutMs))]);
      if (!done) {
        forced = true;
        for (const victim of [pid, child.pid]) {
          try {
            if (victim) process.kill(victim, 'SIGKILL');
          } catch {
            // already gone
          }
        }
        await exitedAt;
      }
      child = null;
    }
    await killAndRemove(cgroups);
    unmount(root);
    forgetInstance(spec.cgroupName);
    stopping = false;
    return { stopMs: performance.now() - started, forced };
  }

  return {
    dir,
    serialPath,
    consoleLogPath,
    cgroupDirs: cgroups,
    get hostKeyPublic() {
      return hostKeyPublic;
    },
    target,
    boot,
    stop,
    running: () => child !== null,
    exec: (command, options) => sshExec(target, command, options),
  };
}
