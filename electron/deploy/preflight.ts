/**
 * Preflight: one shell round trip that reads everything a deploy depends on — CPU
 * architecture, OS and C library, init system, passwordless sudo, free space where the
 * files will go, what is installed now, which content objects the device already holds,
 * and its clock — then a decision that names exactly what is missing. Nothing is changed.
 */
import type { AgentArch } from '../../shared/agentBundle.ts';
import { appError, FieldkitError, type AppError } from '../../shared/errors.ts';
import { shellQuote } from '../kernel/link/shellQuote.ts';
import type { RemoteSteps } from './remoteSteps.ts';

export type DeviceFacts = {
  user: string;
  machine: string;
  osId: string;
  osPretty: string;
  /** "2.36", or '' when unknown (not glibc). */
  glibc: string;
  init: string;
  sudo: boolean;
  /** Free KiB on the filesystem that holds (or will hold) the prefix. */
  freeKb: number;
  freeOn: string;
  /** The release `current` points at (`releases/<version>` → `<version>`), or null. */
  currentVersion: string | null;
  previousVersion: string | null;
  /** Models: the version `models/active` points at. */
  activeModel: string | null;
  previousModel: string | null;
  /** SHA-256 of every object in `<prefix>/objects`. */
  objects: Set<string>;
  /** Device clock minus laptop clock (ms), from the midpoint of the round trip. */
  clockOffsetMs: number;
  /** `systemctl is-active` of the unit in question ('' when systemctl is absent). */
  unitActive: string;
  /** SHA-256 of the installed unit file, or '' when none. */
  unitSha256: string;
  /** LoadState of the service (models: the inference service must exist). */
  unitLoadState: string;
};

const archOfMachine: Record<string, AgentArch> = { x86_64: 'x64', amd64: 'x64', aarch64: 'arm64', arm64: 'arm64' };

/** The agent's lowest glibc: Node 24's official Linux binaries need 2.28 (Debian 10). */
const minGlibc = [2, 28] as const;

export async function readDeviceFacts(remote: RemoteSteps, options: { prefix: string; unit: string; unitPath: string }): Promise<DeviceFacts> {
  const prefix = shellQuote(options.prefix);
  const unit = shellQuote(options.unit);
  const script = [
    'echo "user=$(id -un)"',
    'echo "machine=$(uname -m)"',
    'if [ -r /etc/os-release ]; then . /etc/os-release; fi; echo "os_id=${ID:-}"; echo "os_pretty=${PRETTY_NAME:-}"',
    'echo "glibc=$(getconf GNU_LIBC_VERSION 2>/dev/null | sed -n "s/^glibc //p")"',
    'echo "init=$(cat /proc/1/comm 2>/dev/null)"',
    'if sudo -n true 2>/dev/null; then echo sudo=yes; else echo sudo=no; fi',
    `p=${prefix}; while [ ! -d "$p" ]; do p=$(dirname "$p"); done; echo "free_on=$p"; echo "free_kb=$(df -Pk "$p" | awk 'NR==2 {print $4}')"`,
    `echo "current=$(readlink ${prefix}/current 2>/dev/null)"`,
    `echo "previous=$(readlink ${prefix}/previous 2>/dev/null)"`,
    `echo "active_model=$(readlink ${prefix}/models/active 2>/dev/null)"`,
    `echo "previous_model=$(readlink ${prefix}/models/previous 2>/dev/null)"`,
    `echo "unit_active=$(systemctl is-active ${unit} 2>/dev/null)"`,
    `echo "unit_load=$(systemctl show -p LoadState --value ${unit} 2>/dev/null)"`,
    `echo "unit_sha=$(sha256sum ${shellQuote(options.unitPath)} 2>/dev/null | cut -d' ' -f1)"`,
    'echo "clock_ms=$(date +%s%3N)"',
    'echo "--objects--"',
    `ls ${prefix}/objects 2>/dev/null || true`,
  ].join('\n');
  const sentAt = Date.now();
  const result = await remote.run('preflight', script);
  const receivedAt = Date.now();
  if (result.code !== 0) {
    throw new FieldkitError(appError('IO_ERROR', `The preflight on ${remote.link.describe} failed (exit ${String(result.code)}): ${result.stderr.toString('utf8').trim()}`, 'Check the login shell of the deploy user is a POSIX shell.'));
  }
  const [head = '', objectList = ''] = result.stdout.toString('utf8').split('--objects--\n');
  const values = new Map<string, string>();
  for (const line of head.split('\n')) {
    const at = line.indexOf('=');
    if (at > 0) values.set(line.slice(0, at), line.slice(at + 1).trim());
  }
  const get = (key: string) => values.get(key) ?? '';
  const releaseOf = (target: string, folder: string) => {
    // `current` points at releases/<v>; models/active at <v> beside it.
    const match = new RegExp(`^(?:(?:.*/)?${folder}/)?([^/]+)$`).exec(target);
    return match?.[1] ?? null;
  };
  const clock = Number(get('clock_ms'));
  return {
    user: get('user'),
    machine: get('machine'),
    osId: get('os_id'),
    osPretty: get('os_pretty'),
    glibc: get('glibc'),
    init: get('init'),
    sudo: get('sudo') === 'yes',
    freeKb: Number(get('free_kb')) || 0,
    freeOn: get('free_on'),
    currentVersion: releaseOf(get('current'), 'releases'),
    previousVersion: releaseOf(get('previous'), 'releases'),
    activeModel: releaseOf(get('active_model'), 'models'),
    previousModel: releaseOf(get('previous_model'), 'models'),
    objects: new Set(objectList.split('\n').filter((name) => /^[0-9a-f]{64}$/.test(name))),
    clockOffsetMs: Number.isFinite(clock) && clock > 0 ? Math.round(clock - (sentAt + receivedAt) / 2) : 0,
    unitActive: get('unit_active'),
    unitSha256: get('unit_sha'),
    unitLoadState: get('unit_load'),
  };
}

function versionAtLeast(version: string, min: readonly [number, number]): boolean {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  return major > min[0] || (major === min[0] && minor >= min[1]);
}

const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

/**
 * Every reason the device cannot take this deploy, each naming what is missing and how
 * to fix it; empty when it can. `bytesNeeded` is what must be sent (objects it lacks).
 */
export function preflightRefusals(facts: DeviceFacts, wanted: { arch: AgentArch | null; bytesNeeded: number; prefix: string; modelService: string | null }): AppError[] {
  const where = facts.user === '' ? 'the device' : `${facts.user}'s device`;
  const refusals: AppError[] = [];
  if (wanted.arch !== null) {
    const arch = archOfMachine[facts.machine];
    if (arch === undefined) {
      refusals.push(
        appError(
          'CONFLICT',
          `The device's CPU architecture is ${facts.machine || 'unknown'}; this bundle is for linux-${wanted.arch}.`,
          facts.machine.startsWith('arm') ? 'This is a 32-bit OS: install a 64-bit Raspberry Pi OS (arm64) on the device.' : 'Use a bundle built for this device’s architecture.',
        ),
      );
    } else if (arch !== wanted.arch) {
      refusals.push(appError('CONFLICT', `The device is ${facts.machine} (linux-${arch}); this bundle is for linux-${wanted.arch}.`, `Deploy the linux-${arch} bundle (fieldkit-agent-<version>-linux-${arch}.tar) instead.`));
    }
    if (facts.glibc !== '' && !versionAtLeast(facts.glibc, minGlibc)) {
      refusals.push(
        appError('CONFLICT', `The device's C library is glibc ${facts.glibc} (${facts.osPretty || facts.osId}); the agent's Node 24 needs glibc 2.28 or newer.`, 'Upgrade the device to Debian 10 (buster) / Raspberry Pi OS 10 or newer.'),
      );
    }
    if (facts.glibc === '' && facts.osId !== '') {
      refusals.push(appError('CONFLICT', `The device runs ${facts.osPretty || facts.osId} without glibc; the agent's Node 24 runtime needs a glibc system.`, 'Use Raspberry Pi OS or Debian on the device.'));
    }
  }
  if (facts.init !== 'systemd') {
    refusals.push(
      appError('CONFLICT', `PID 1 on the device is ${facts.init || 'unknown'}, not systemd; fieldkit installs its services as systemd units.`, 'Use Raspberry Pi OS or Debian with systemd (the default init).'),
    );
  }
  if (!facts.sudo) {
    const user = facts.user || 'the login user';
    refusals.push(
      appError(
        'PERMISSION_DENIED',
        `No passwordless sudo for ${user}: installing needs root, and a deploy never types a password.`,
        `On the device run: echo '${user} ALL=(ALL) NOPASSWD: ALL' | sudo tee /etc/sudoers.d/010_${user}-nopasswd && sudo chmod 0440 /etc/sudoers.d/010_${user}-nopasswd`,
      ),
    );
  }
  // Objects and the assembled release share the filesystem; hard links cost no space, so
  // what must fit is what is sent, plus room for the small files written beside it.
  const neededKb = Math.ceil(wanted.bytesNeeded / 1024) + 16 * 1024;
  if (facts.freeKb < neededKb) {
    refusals.push(
      appError(
        'CONFLICT',
        `Only ${mib(facts.freeKb * 1024)} free on ${facts.freeOn || 'the filesystem'} (which holds ${wanted.prefix}); this deploy must send ${mib(wanted.bytesNeeded)} and needs ${mib(neededKb * 1024)}.`,
        `Free space on ${where} (sudo apt clean, sudo journalctl --vacuum-size=50M, remove old files), then deploy again.`,
      ),
    );
  }
  if (wanted.modelService !== null && facts.unitLoadState !== 'loaded') {
    refusals.push(
      appError('NOT_FOUND', `The inference service ${wanted.modelService} is not installed on the device (LoadState ${facts.unitLoadState || 'unknown'}).`, `Install the inference service (${wanted.modelService}) on the device first, then deploy the model.`),
    );
  }
  return refusals;
}

/** What a serial upload costs: 2 KiB per console round trip, base64 on the wire (serialLink.ts). */
const serialChunkBytes = 2048;

/**
 * Over a serial console, measures the line (one empty round trip, then 24 KiB of base64
 * coming back) and refuses a transfer that would take longer than `maxSeconds`, offering
 * the network instead. Null when it fits (or the link is not serial).
 */
export async function serialTransferRefusal(remote: RemoteSteps, bytesNeeded: number, maxSeconds: number): Promise<AppError | null> {
  if (remote.link.kind !== 'serial' || bytesNeeded === 0) return null;
  let began = performance.now();
  await remote.run('preflight', 'true');
  const roundTripMs = performance.now() - began;
  began = performance.now();
  const probe = await remote.run('preflight', 'head -c 18432 /dev/zero | base64');
  const probeMs = Math.max(1, performance.now() - began - roundTripMs);
  const bytesPerSecond = (probe.stdout.length / probeMs) * 1000;
  const chunks = Math.ceil(bytesNeeded / serialChunkBytes);
  const seconds = ((bytesNeeded * 4) / 3 / bytesPerSecond) + (chunks * roundTripMs) / 1000;
  remote.note('preflight', 'serial line speed', `${(bytesPerSecond / 1024).toFixed(1)} KiB/s, ${roundTripMs.toFixed(0)} ms per command: ${mib(bytesNeeded)} would take about ${Math.ceil(seconds / 60).toString()} min`);
  if (seconds <= maxSeconds) return null;
  return appError(
    'CONFLICT',
    `This deploy must send ${mib(bytesNeeded)}; over ${remote.link.describe} (about ${(bytesPerSecond / 1024).toFixed(1)} KiB/s, ${roundTripMs.toFixed(0)} ms per chunk) that would take about ${Math.ceil(seconds / 60).toString()} min, more than the ${Math.ceil(maxSeconds / 60).toString()} min allowed.`,
    'Connect the Pi to the network (Ethernet, Wi-Fi or USB-gadget Ethernet; provision it over serial first) and deploy over SSH. Once the runtime is on the device, later updates are small enough for the serial console.',
  );
}
