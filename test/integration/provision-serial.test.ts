/**
 * Provisioning over the serial console of a real systemd Pi (the virtual site, console
 * bridged to a PTY), its sshd stopped and disabled and fieldkit's key not installed — as a
 * fresh Pi on the bench. After provisioning, the Pi answers over SSH with fieldkit's key on
 * its sshd port, with the host key read over the cable (checked against OpenSSH's own
 * ssh-keyscan); a second run changes nothing; transcripts carry every command with its exit
 * code and never the Wi-Fi passphrase. Faults: an SSH address that reaches another machine
 * (different host key), an agent already journaling as another device, no passwordless sudo.
 */
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadOrCreateAppSshKey, type AppSshKey } from '../../electron/kernel/link/appSshKey.ts';
import type { Link } from '../../electron/kernel/link/linkApi.ts';
import { connectSerial } from '../../electron/kernel/link/serialLink.ts';
import { connectSsh } from '../../electron/kernel/link/sshLink.ts';
import { wpaPskHex } from '../../electron/provision/networkPlan.ts';
import { provisionOverSerial, type ProvisionOptions } from '../../electron/provision/provisionOverSerial.ts';
import { isFieldkitError } from '../../shared/errors.ts';
import type { ProvisionResult, ProvisionStep } from '../../shared/provision.ts';
import { startSshd, type Sshd } from '../support/sshd.ts';
import { makeTempDir } from '../support/tempDir.ts';
import { startVirtualSite, type VirtualPi, type VirtualSite } from '../support/virtualSite.ts';

const dir = makeTempDir('fieldkit-provision-');
let site: VirtualSite;
let pi: VirtualPi;
let serial: Link;
let appKey: AppSshKey;
const identity = { hostname: 'yard-017', deviceId: 'yard-017', site: 'north-yard' };
const psk = 'correct-horse-7';

beforeAll(async () => {
  site = await startVirtualSite({ count: 1, serial: true, name: 'ppi' });
  pi = site.pis[0] as VirtualPi;
  appKey = loadOrCreateAppSshKey(dir.path);
  // A fresh Pi: sshd off and not enabled (the site's own test key stays; fieldkit's is not there).
  const off = await pi.exec('sudo -n systemctl disable --now ssh.service');
  expect(off.code, off.stderr).toBe(0);
  serial = await connectSerial({ target: { path: pi.serialPath ?? '' }, credentials: { username: pi.user, password: pi.password } });
}, 120_000);

afterAll(async () => {
  await serial.close();
  await site.stop();
  dir.remove();
});

function provision(overrides: Partial<ProvisionOptions> = {}): Promise<ProvisionResult> {
  return provisionOverSerial({ link: serial, identity, appKey, user: 'pi', network: { mode: 'static', interface: 'eth0', address: '10.42.0.17/24', gateway: '10.42.0.1', dns: ['10.42.0.1', '9.9.9.9'] }, sshHost: '127.0.0.1', ...overrides });
}

/** Runs a command over the serial console (sshd may be off) and returns its stdout. */
async function onConsole(command: string): Promise<string> {
  const result = await serial.exec(command);
  expect(result.code, `${command}: ${result.stderr.toString()}`).toBe(0);
  return result.stdout.toString('utf8');
}

const changes = (steps: ProvisionStep[]) => Object.fromEntries(steps.map((s) => [s.name, s.changed]));

async function sshWithAppKey(port: number, pinned: string): Promise<string> {
  const ssh = await connectSsh({ target: { host: '127.0.0.1', port, username: 'pi' }, appKey, hostKey: { pinned }, timeoutMs: 5000 });
  try {
    return (await ssh.exec('hostname; cat /etc/fieldkit-agent/identity.json')).stdout.toString('utf8');
  } finally {
    await ssh.close();
  }
}

describe('provisioning a fresh Pi over its serial console', () => {
  let first: ProvisionResult;

  it('before: sshd is off, so nothing answers on its port', async () => {
    await expect(connectSsh({ target: { host: '127.0.0.1', port: pi.sshPort, username: 'pi' }, appKey, hostKey: { pinned: null }, timeoutMs: 3000 })).rejects.toMatchObject({ appError: { code: 'UNAVAILABLE' } });
  });

  it('sets hostname and identity, installs the key, enables sshd, writes the network; the Pi then answers over SSH with the pinned key', async () => {
    const started = performance.now();
    first = await provision();
    const elapsed = performance.now() - started;
    expect(changes(first.steps)).toEqual({ hostname: true, identity: true, 'ssh-key': true, sshd: true, network: true, 'confirm-ssh': false });
    // The port was not given: it is the one sshd on the Pi is configured for.
    expect(first.ssh).toEqual({ host: '127.0.0.1', port: pi.sshPort, username: 'pi' });
    expect(first.networkBackend).toBe('systemd-networkd');

    // The key read over the cable is the key OpenSSH itself sees on the network.
    const scanned = execFileSync('ssh-keyscan', ['-t', 'ed25519', '-p', String(pi.sshPort), '127.0.0.1'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const opensshFingerprint = execFileSync('ssh-keygen', ['-lf', '-'], { input: scanned, encoding: 'utf8' }).split(' ')[1];
    expect(first.sshHostKey).toBe(opensshFingerprint);

    // fieldkit's key logs in, the pinned host key holds, and the Pi is who it was told to be.
    const seen = await sshWithAppKey(pi.sshPort, first.sshHostKey);
    expect(seen.split('\n')[0]).toBe('yard-017');
    expect(JSON.parse(seen.slice(seen.indexOf('\n') + 1))).toEqual({ device_id: 'yard-017', hostname: 'yard-017', site: 'north-yard' });

    expect((await onConsole('stat -c "%a %U" ~/.ssh ~/.ssh/authorized_keys; systemctl is-enabled ssh; grep -P "^127\\.0\\.1\\.1\\t" /etc/hosts')).trim().split('\n')).toEqual(['700 pi', '600 pi', 'enabled', '127.0.1.1\tyard-017']);
    expect(await onConsole('cat /etc/systemd/network/10-fieldkit-eth0.network')).toContain('[Match]\nName=eth0\n\n[Network]\nAddress=10.42.0.17/24\nGateway=10.42.0.1\nDNS=10.42.0.1\nDNS=9.9.9.9\n');
    // The machine keeps working although the address cannot apply here (a container on the host's network).
    expect((await onConsole('systemctl is-system-running')).trim()).toBe('running');
    expect(first.steps.find((s) => s.name === 'network')?.detail).toMatch(/not applied now/);

    // Every command on the Pi is in the transcript with its exit code; root work uses sudo -n.
    const onDevice = first.transcript.filter((t) => t.step !== 'confirm-ssh' && !t.command.startsWith('SHA-256'));
    expect(onDevice.length).toBeGreaterThanOrEqual(12);
    expect(onDevice.every((t) => typeof t.exitCode === 'number')).toBe(true);
    expect(first.transcript.filter((t) => t.command.startsWith('sudo ')).every((t) => t.command.startsWith('sudo -n '))).toBe(true);
    expect(new Set(first.transcript.map((t) => t.step))).toEqual(new Set(['facts', 'hostname', 'identity', 'ssh-key', 'sshd', 'network', 'host-key', 'confirm-ssh']));
    console.log(`provisioned over the serial console in ${(elapsed / 1000).toFixed(1)} s (${String(first.transcript.length)} transcript entries)`);
  });

  it('a second run finds everything as asked and changes nothing', async () => {
    const before = await onConsole('stat -c "%Y %n" /etc/hosts /etc/fieldkit-agent/identity.json /etc/systemd/network/10-fieldkit-eth0.network ~/.ssh/authorized_keys');
    const started = performance.now();
    const again = await provision();
    const elapsed = performance.now() - started;
    expect(again.steps.every((s) => !s.changed), JSON.stringify(again.steps)).toBe(true);
    expect(again.steps.map((s) => s.name)).toEqual(first.steps.map((s) => s.name));
    expect(again.sshHostKey).toBe(first.sshHostKey);
    expect(await onConsole('stat -c "%Y %n" /etc/hosts /etc/fieldkit-agent/identity.json /etc/systemd/network/10-fieldkit-eth0.network ~/.ssh/authorized_keys')).toBe(before);
    expect((await onConsole('grep -c "" ~/.ssh/authorized_keys')).trim()).toBe('2'); // the site's key and fieldkit's, once
    console.log(`second run (nothing to do) in ${(elapsed / 1000).toFixed(1)} s`);
  });

  it('Wi-Fi: country and passphrase are written (0600) but the passphrase appears in no transcript', async () => {
    const lines: string[] = [];
    const wifi = await provision({ network: { mode: 'wifi', interface: 'wlan0', ssid: 'Yard AP "2"', country: 'DE' }, wifiPsk: psk, onTranscript: (t) => lines.push(JSON.stringify(t)) });
    expect(changes(wifi.steps)).toMatchObject({ hostname: false, identity: false, 'ssh-key': false, sshd: false, 'wifi-country': true, network: true });
    const conf = await onConsole('sudo -n stat -c "%a %U" /etc/wpa_supplicant/wpa_supplicant-wlan0.conf; sudo -n cat /etc/wpa_supplicant/wpa_supplicant-wlan0.conf /etc/modprobe.d/fieldkit-wifi-country.conf');
    expect(conf).toMatch(/^600 root\n/);
    expect(conf).toContain('country=DE\n');
    expect(conf).toContain(`ssid=${Buffer.from('Yard AP "2"').toString('hex')}\n`);
    expect(conf).toContain(`psk=${wpaPskHex('Yard AP "2"', psk)}\n`);
    expect(conf).toContain('options cfg80211 ieee80211_regdom=DE\n');
    const recorded = [JSON.stringify(wifi), ...lines].join('\n');
    for (const secret of [psk, Buffer.from(psk).toString('base64').replace(/=+$/, ''), wpaPskHex('Yard AP "2"', psk)]) expect(recorded).not.toContain(secret);
    // The same Wi-Fi again: nothing to do.
    const again = await provision({ network: { mode: 'wifi', interface: 'wlan0', ssid: 'Yard AP "2"', country: 'DE' }, wifiPsk: psk });
    expect(again.steps.every((s) => !s.changed), JSON.stringify(again.steps)).toBe(true);
    // Without its passphrase Wi-Fi is refused before anything is sent.
    await expect(provision({ network: { mode: 'wifi', interface: 'wlan0', ssid: 'Yard', country: 'DE' } })).rejects.toMatchObject({ appError: { code: 'BAD_REQUEST', field: 'wifiPsk' } });
  });

  it('DHCP rewrites the same interface file', async () => {
    const dhcp = await provision({ network: { mode: 'dhcp', interface: 'eth0' } });
    expect(changes(dhcp.steps).network).toBe(true);
    expect(await onConsole('cat /etc/systemd/network/10-fieldkit-eth0.network')).toMatch(/\[Match\]\nName=eth0\n\n\[Network\]\nDHCP=yes\n$/);
  });

  it('refuses to log in where the SSH address shows another host key (an impostor), naming the one from the cable', async () => {
    const impostor: Sshd = await startSshd();
    try {
      const error: unknown = await provision({ sshPort: impostor.port, confirmTimeoutMs: 3000 }).catch((e: unknown) => e);
      expect(isFieldkitError(error) && error.appError.code).toBe('HOST_KEY_CHANGED');
      expect(isFieldkitError(error) && error.appError.message).toContain(first.sshHostKey);
    } finally {
      await impostor.stop();
    }
  });

  it('refuses a device id other than the one the agent already journals as, changing nothing', async () => {
    await onConsole(`sudo -n install -d /etc/fieldkit-agent && printf '{"device_id": "yard-099", "site": "x"}\\n' | sudo -n tee /etc/fieldkit-agent/config.json >/dev/null`);
    try {
      const error: unknown = await provision({ identity: { ...identity, hostname: 'yard-018' } }).catch((e: unknown) => e);
      expect(isFieldkitError(error) && error.appError).toMatchObject({ code: 'CONFLICT', field: 'identity.deviceId' });
      expect((await onConsole('hostname')).trim()).toBe('yard-017');
    } finally {
      await onConsole('sudo -n rm -f /etc/fieldkit-agent/config.json');
    }
  });

  it('without passwordless sudo, says which sudoers line is missing', async () => {
    await onConsole('sudo -n rm /etc/sudoers.d/010_pi-nopasswd');
    const error: unknown = await provision().catch((e: unknown) => e);
    expect(isFieldkitError(error) && error.appError).toMatchObject({ code: 'PERMISSION_DENIED', hint: expect.stringContaining('pi ALL=(ALL) NOPASSWD:ALL') as unknown });
  });
});
