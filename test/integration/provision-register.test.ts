/**
 * What a finished provisioning does to the device registry (a real store): the SSH device
 * is added with the host key read over the cable pinned; provisioning again updates it in
 * place; a different key already pinned at that address is refused and left as it was.
 * And the CLI's --network spellings.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { parseNetworkOption } from '../../electron/provision/cli/provisionCommand.ts';
import { createDeviceStore } from '../../electron/devices/deviceStore.ts';
import { registerProvisionedDevice } from '../../electron/provision/provisionJob.ts';
import { openStore } from '../../electron/kernel/store/openStore.ts';
import type { ProvisionResult } from '../../shared/provision.ts';
import { makeTempDir } from '../support/tempDir.ts';

const dir = makeTempDir('fieldkit-provision-register-');
const db = openStore(dir.path);
const devices = createDeviceStore(db);

afterAll(() => {
  db.close();
  dir.remove();
});

const keyA = `SHA256:${'A'.repeat(43)}`;
const keyB = `SHA256:${'B'.repeat(43)}`;
const result = (sshHostKey: string): ProvisionResult => ({ steps: [], sshHostKey, ssh: { host: '10.0.0.17', port: 22, username: 'pi' }, networkBackend: 'NetworkManager', transcript: [], durationMs: 1 });

describe('registering a provisioned Pi', () => {
  it('adds the SSH device with the key from the cable pinned, leaving the serial device', () => {
    devices.add({ name: '/dev/ttyUSB0', link: { kind: 'serial', path: '/dev/ttyUSB0', baudRate: 115200, username: 'pi', agentPrefix: '/opt/fieldkit-agent' } }, 1);
    const device = registerProvisionedDevice(devices, result(keyA), { name: 'pi-017', site: 'north', agentPrefix: '/opt/fieldkit-agent', nowMs: 2 });
    expect(device).toMatchObject({ name: 'pi-017', site: 'north', hostKeyFingerprint: keyA, link: { kind: 'ssh', host: '10.0.0.17', port: 22, username: 'pi' } });
    expect(devices.list().map((d) => d.link.kind).sort()).toEqual(['serial', 'ssh']);
  });

  it('provisioning again (renamed) updates the same device', () => {
    const device = registerProvisionedDevice(devices, result(keyA), { name: 'pi-017b', site: 'south', agentPrefix: '/opt/fieldkit-agent', nowMs: 3 });
    expect(devices.list()).toHaveLength(2);
    expect(device).toMatchObject({ name: 'pi-017b', site: 'south', hostKeyFingerprint: keyA });
  });

  it('refuses a different key at an address that has one pinned, changing nothing', () => {
    expect(() => registerProvisionedDevice(devices, result(keyB), { name: 'other', site: '', agentPrefix: '/opt/fieldkit-agent', nowMs: 4 })).toThrow(/has SHA256:A+ pinned, but the Pi on the cable has SHA256:B+/);
    expect(devices.list().find((d) => d.link.kind === 'ssh')).toMatchObject({ name: 'pi-017b', hostKeyFingerprint: keyA });
  });
});

describe('fieldkit provision --network', () => {
  it('reads each mode', () => {
    expect(parseNetworkOption('dhcp')).toEqual({ mode: 'dhcp' });
    expect(parseNetworkOption('static:10.0.0.17/24,10.0.0.1,1.1.1.1+9.9.9.9')).toEqual({ mode: 'static', address: '10.0.0.17/24', gateway: '10.0.0.1', dns: ['1.1.1.1', '9.9.9.9'] });
    expect(parseNetworkOption('wifi:Yard, north,de')).toEqual({ mode: 'wifi', ssid: 'Yard, north', country: 'de' });
    expect(parseNetworkOption('usb-gadget')).toEqual({ mode: 'usb-gadget' });
    expect(parseNetworkOption('usb-gadget:10.55.0.1/24')).toEqual({ mode: 'usb-gadget', address: '10.55.0.1/24' });
  });

  it('names what is wrong', () => {
    expect(() => parseNetworkOption('static:10.0.0.17')).toThrow(/address: an IPv4 address with its prefix/);
    expect(() => parseNetworkOption('wifi:Yard')).toThrow(/country/);
    expect(() => parseNetworkOption('ppp')).toThrow(/expected dhcp, static:/);
  });
});
