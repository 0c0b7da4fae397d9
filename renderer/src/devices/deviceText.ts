/**
 * How a device reads in the table: its link, whether its clock is off, and its status in
 * one word ("2 min ago" is `formatAgo` in `shared/format.ts`). Plain functions, so the
 * words are the same wherever a device is shown.
 */
import type { Device, LinkSpec } from '../../../shared/devices.ts';
import { formatSshAddress } from '../../../shared/sshAddress.ts';

/** `ssh pi@10.0.0.7`, `ssh pi@10.0.0.7:2222`, `serial /dev/ttyUSB0`, `local`. */
export function linkLabel(link: LinkSpec): string {
  switch (link.kind) {
    case 'ssh':
      return `ssh ${formatSshAddress({ username: link.username, host: link.host, port: link.port === 22 ? null : link.port })}`;
    case 'serial':
      return `serial ${link.path}`;
    case 'local':
      return 'local';
  }
}

/**
 * The address discovery reports for this device (`host:port`, or the port path), so a
 * found entry can be marked as already added. Null for local devices.
 */
export function discoveryAddressOf(link: LinkSpec): string | null {
  switch (link.kind) {
    case 'ssh':
      return `${link.host}:${link.port}`;
    case 'serial':
      return link.path;
    case 'local':
      return null;
  }
}

/** The command whose output the technician compares with ours, run on the Pi itself. */
export const fingerprintCommand = 'ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub';

/** Offsets up to this are the round trip's noise, not a wrong clock. */
const clockToleranceMs = 2000;

/**
 * "clock 5 h behind" when the device clock is off by more than 2 s (many Pis have no RTC
 * and boot in 1970 or at the last shutdown), else null. Offset = device minus laptop.
 */
export function clockWarning(offsetMs: number | null): string | null {
  if (offsetMs === null || Math.abs(offsetMs) <= clockToleranceMs) return null;
  return `clock ${formatSpan(Math.abs(offsetMs))} ${offsetMs < 0 ? 'behind' : 'ahead'}`;
}

function formatSpan(ms: number): string {
  const seconds = Math.round(ms / 1000);
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.round(minutes / 60);
  if (hours < 48) return `${hours} h`;
  const days = Math.round(hours / 24);
  if (days < 730) return `${days} d`;
  return `${Math.round(days / 365)} years`;
}

export type DeviceStatus =
  | { tone: 'ok'; label: string }
  | { tone: 'idle'; label: string }
  | { tone: 'warn'; label: string; detail: string | null }
  | { tone: 'danger'; label: string; detail: string };

/**
 * The registry keeps only the last error's message, not its code. The SSH link words a
 * changed key as "has CHANGED", which is what lets the row stay red after a reload.
 */
export function isHostKeyChangedMessage(message: string): boolean {
  return /host key .* has CHANGED/.test(message);
}

export function needsHostKey(device: Device): boolean {
  return device.link.kind === 'ssh' && device.hostKeyFingerprint === null;
}

/**
 * The device showed another key than the pinned one at the last contact, and that is
 * still so: once the technician forgot the old key and trusted the new one, the same
 * message (it stays until the next contact) names the pinned key as the one it saw.
 */
export function hostKeyChanged(device: Device): boolean {
  const { hostKeyFingerprint: pinned, lastError } = device;
  if (device.link.kind !== 'ssh' || pinned === null || lastError === null || !isHostKeyChangedMessage(lastError)) return false;
  return !lastError.includes(`now ${pinned}`);
}

/** ok / last error / "host key not accepted", most pressing first. */
export function deviceStatus(device: Device): DeviceStatus {
  if (needsHostKey(device)) {
    // Whatever failed before, nothing can happen until a key is accepted.
    return { tone: 'warn', label: 'Host key not accepted', detail: 'Check its host key on the Pi, then trust it.' };
  }
  if (device.lastError !== null) {
    if (hostKeyChanged(device)) {
      return { tone: 'danger', label: 'Host key CHANGED', detail: 'Possible impersonation; fieldkit will not connect to it.' };
    }
    if (isHostKeyChangedMessage(device.lastError)) return { tone: 'idle', label: 'New host key trusted; not connected since' };
    return { tone: 'danger', label: 'Last contact failed', detail: device.lastError };
  }
  if (device.lastSeenMs !== null) return { tone: 'ok', label: 'OK' };
  return { tone: 'idle', label: 'Not connected yet' };
}
