import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Device } from '../../shared/devices.ts';
import { DiscoveryResultSchema } from '../../shared/api.ts';
import { createAppServices, type AppServices } from '../../electron/app/appServices.ts';
import { installTestAgent, type TestAgentInstall } from '../support/installTestAgent.ts';
import { startSshd, testPassword, testUser, type Sshd } from '../support/sshd.ts';
import { failure } from '../support/failure.ts';
import { makeTempDir } from '../support/tempDir.ts';


/** Registering, trusting and connecting devices: a real sshd with the real agent behind it. */
describe('devices', () => {
  const dir = makeTempDir();
  let sshd: Sshd;
  let agent: TestAgentInstall;
  let services: AppServices;
  let device: Device;
  const changes: number[] = [];

  beforeAll(async () => {
    [sshd, agent] = await Promise.all([startSshd(), installTestAgent({ deviceId: 'pi-07', owner: testUser })]);
    services = await createAppServices({ dataDir: join(dir.path, 'data'), version: 'test' });
    services.events.subscribe((name) => {
      if (name === 'devices.changed') changes.push(Date.now());
    });
  });

  afterAll(async () => {
    await services.close();
    await sshd.stop();
    agent.remove();
    dir.remove();
  });

  const h = () => services.handlers;

  it('registers an SSH device once; the same address twice is refused', async () => {
    ({ device } = await h()['devices.add']({
      name: 'pi-07',
      site: 'depot',
      link: { kind: 'ssh', host: '127.0.0.1', port: sshd.port, username: testUser, agentPrefix: agent.prefix },
    }));
    expect(device).toMatchObject({ name: 'pi-07', hostKeyFingerprint: null, agentVersion: null });
    const again = await failure(h()['devices.add']({ link: { kind: 'ssh', host: '127.0.0.1', port: sshd.port, username: testUser, agentPrefix: agent.prefix } }));
    expect(again.code).toBe('CONFLICT');
    expect(changes.length).toBe(1);
  });

  it('will not connect before the host key is accepted', async () => {
    expect((await failure(h()['devices.connect']({ id: device.id, password: testPassword }))).code).toBe('HOST_KEY_UNTRUSTED');
  });

  it('shows the host key to compare, and pins only what the device really shows', async () => {
    const scan = await h()['devices.scanHostKey']({ id: device.id });
    expect(scan).toEqual({ fingerprint: sshd.fingerprint, pinned: null });
    const wrong = await failure(h()['devices.trustHostKey']({ id: device.id, fingerprint: `SHA256:${'B'.repeat(43)}` }));
    expect(wrong.code).toBe('HOST_KEY_CHANGED');
    const { device: pinned } = await h()['devices.trustHostKey']({ id: device.id, fingerprint: scan.fingerprint });
    expect(pinned.hostKeyFingerprint).toBe(sshd.fingerprint);
  });

  it('needs the password at first contact, then greets the agent and records who it is', async () => {
    expect((await failure(h()['devices.connect']({ id: device.id }))).code).toBe('AUTH_FAILED');
    const first = await h()['devices.connect']({ id: device.id, password: testPassword });
    expect(first.device).toMatchObject({ agentDeviceId: 'pi-07', lastError: null });
    expect(first.device.journalId).toMatch(/^[0-9a-f]{32}$/);
    expect(first.device.agentVersion).toMatch(/^\d+\.\d+\.\d+/);
    expect(Math.abs(first.device.clockOffsetMs ?? 1e9)).toBeLessThan(1000);
    // fieldkit's key is now on the device: no password needed any more.
    const second = await h()['devices.connect']({ id: device.id });
    expect(second.device.journalId).toBe(first.device.journalId);
    expect(second.roundTripMs).toBeGreaterThan(0);
  });

  it('refuses a device whose host key changed, and records why', async () => {
    await sshd.rotateHostKey();
    expect((await failure(h()['devices.connect']({ id: device.id }))).code).toBe('HOST_KEY_CHANGED');
    const listed = (await h()['devices.list']({})).devices.find((d) => d.id === device.id);
    expect(listed?.lastError).toMatch(/CHANGED/);
    // After a real reinstall the technician forgets the old key and accepts the new one.
    await h()['devices.forgetHostKey']({ id: device.id });
    const scan = await h()['devices.scanHostKey']({ id: device.id });
    await h()['devices.trustHostKey']({ id: device.id, fingerprint: scan.fingerprint });
    expect((await h()['devices.connect']({ id: device.id })).device.lastError).toBeNull();
  });

  it('finds the SSH server on a probed subnet and marks it as known', async () => {
    const { jobId } = await h()['devices.discover']({ subnet: '127.0.0.0/29', port: sshd.port, mdns: false, serial: true });
    const record = await services.jobs.whenFinished(jobId);
    expect(record.state).toBe('done');
    const result = DiscoveryResultSchema.parse(record.result);
    expect(result.probed).toBe(6);
    expect(result.found).toContainEqual(expect.objectContaining({ kind: 'ssh', address: `127.0.0.1:${sshd.port}`, source: 'subnet', known: true }));
    expect(result.found.find((f) => f.address === `127.0.0.1:${sshd.port}`)?.detail).toMatch(/^SSH-2\.0-OpenSSH/);
  });

  it('reaches a local agent through the local link (the demo site)', async () => {
    const local = await installTestAgent({ deviceId: 'demo-01' });
    try {
      const { device: demo } = await h()['devices.add']({ name: 'demo-01', link: { kind: 'local', agentCommand: `${local.prefix}/current/bin/fieldkit-agent rpc` } });
      const { device: seen } = await h()['devices.connect']({ id: demo.id });
      expect(seen.agentDeviceId).toBe('demo-01');
      await h()['devices.remove']({ id: demo.id });
      expect((await h()['devices.list']({})).devices.map((d) => d.id)).not.toContain(demo.id);
    } finally {
      local.remove();
    }
  });
});
