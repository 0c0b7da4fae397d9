/**
 * The Provision dialog's logic: the form becomes a devices.provision request (or names the
 * field that is wrong), and a running job's log lines become the step list.
 */
import { describe, expect, it } from 'vitest';
import { emptyProvisionForm, provisionRequestFromForm, stepsFromLog, summarizeProvision } from '../../renderer/src/devices/provisionView.ts';

describe('the Provision dialog', () => {
  it('builds a static request, DNS split on spaces or commas', () => {
    const built = provisionRequestFromForm('dev_abcdef12', { ...emptyProvisionForm, hostname: ' pi-017 ', deviceId: 'pi-017', site: 'north', mode: 'static', address: '10.0.0.17/24', gateway: '10.0.0.1', dns: '10.0.0.1, 9.9.9.9' });
    expect(built).toEqual({ request: { id: 'dev_abcdef12', identity: { hostname: 'pi-017', deviceId: 'pi-017', site: 'north' }, network: { mode: 'static', interface: 'eth0', address: '10.0.0.17/24', gateway: '10.0.0.1', dns: ['10.0.0.1', '9.9.9.9'] } } });
  });

  it('names each wrong field: hostname, address, Wi-Fi passphrase and country', () => {
    expect(provisionRequestFromForm('dev_abcdef12', { ...emptyProvisionForm, hostname: 'pi 17', deviceId: 'x', mode: 'static', address: '10.0.0.17' })).toEqual({
      errors: { hostname: expect.stringContaining('hostname') as unknown, address: expect.stringContaining('prefix') as unknown },
    });
    const wifi = provisionRequestFromForm('dev_abcdef12', { ...emptyProvisionForm, hostname: 'a', deviceId: 'a', mode: 'wifi', ssid: 'Yard', country: 'Germany', psk: 'short' });
    expect(Object.keys('errors' in wifi ? wifi.errors : {}).sort()).toEqual(['country', 'psk']);
    const ok = provisionRequestFromForm('dev_abcdef12', { ...emptyProvisionForm, hostname: 'a', deviceId: 'a', mode: 'wifi', ssid: 'Yard', country: 'de', psk: 'long enough' });
    expect('request' in ok && ok.request.network).toEqual({ mode: 'wifi', interface: 'wlan0', ssid: 'Yard', country: 'DE' });
  });

  it('reads the steps a running job has logged, ignoring other lines', () => {
    const steps = stepsFromLog([{ message: 'hostname: changed — was raspberrypi, now pi-017' }, { message: 'something else' }, { message: 'sshd: unchanged — ssh.service already enabled and running' }]);
    expect(steps).toEqual([
      { name: 'hostname', changed: true, detail: 'was raspberrypi, now pi-017' },
      { name: 'sshd', changed: false, detail: 'ssh.service already enabled and running' },
    ]);
  });

  it('sums up a finished job, and says nothing for a result it does not recognise', () => {
    expect(summarizeProvision({ nope: 1 })).toBeNull();
    const device = { id: 'dev_abcdef12', name: 'pi-017', site: '', link: { kind: 'ssh', host: '10.0.0.17', port: 22, username: 'pi', agentPrefix: '/opt/fieldkit-agent' }, hostKeyFingerprint: 'SHA256:x', agentDeviceId: null, journalId: null, agentVersion: null, modelVersion: null, clockOffsetMs: null, lastSeenMs: null, lastError: null, addedMs: 1 };
    const result = { steps: [{ name: 'hostname', changed: true, detail: '' }, { name: 'confirm-ssh', changed: false, detail: '' }], sshHostKey: 'SHA256:x', ssh: { host: '10.0.0.17', port: 22, username: 'pi' }, networkBackend: 'NetworkManager', transcript: [], durationMs: 1, device };
    expect(summarizeProvision(result)).toBe('pi-017 answers over SSH at 10.0.0.17:22 (1 step changed); host key pinned.');
  });
});
