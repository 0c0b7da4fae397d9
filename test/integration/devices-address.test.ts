import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAppServices } from '../../electron/app/appServices.ts';
import { dispatch } from '../../electron/kernel/api/dispatch.ts';
import { DeviceSchema } from '../../shared/devices.ts';
import { installTestAgent, type TestAgentInstall } from '../support/installTestAgent.ts';
import { runCliProcess } from '../support/runCliProcess.ts';
import { startSshd, testPassword, testUser, type Sshd } from '../support/sshd.ts';
import { makeTempDir } from '../support/tempDir.ts';

/** The README's own address form, user@host:port, through the real CLI to a real sshd; impossible addresses refused with the reason. */
describe('device addresses', () => {
  const dir = makeTempDir();
  const dataDir = join(dir.path, 'data');
  const env = { FIELDKIT_DATA_DIR: dataDir };
  let sshd: Sshd;
  let agent: TestAgentInstall;

  beforeAll(async () => {
    [sshd, agent] = await Promise.all([startSshd(), installTestAgent({ deviceId: 'pi-07', owner: testUser })]);
  });
  afterAll(async () => {
    await sshd.stop();
    agent.remove();
    dir.remove();
  });

  it('refuses 10.0.0.300 in the CLI with exit 2, saying which number is wrong', async () => {
    const run = await runCliProcess(['devices', 'add', '--ssh', 'pi@10.0.0.300', '--name', 'bad'], env);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('10.0.0.300 is not an IPv4 address: 300 is more than 255');
    expect(run.stderr).toContain('[user@]host[:port]');
  });

  it('refuses 10.0.0.300 through the API, on the host field', async () => {
    const services = await createAppServices({ dataDir, version: 'test' });
    try {
      const result = await dispatch(services.handlers, 'devices.add', { link: { kind: 'ssh', host: '10.0.0.300', port: 22, username: 'pi' } });
      expect(result).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST', field: 'link.host' } });
      expect(result.ok ? '' : result.error.message).toContain('300 is more than 255');
      expect((await services.handlers['devices.list']({})).devices).toEqual([]);
    } finally {
      await services.close();
    }
  });

  it(`adds ${testUser}@127.0.0.1:<port> with the CLI, and that device logs in to the real sshd`, async () => {
    const run = await runCliProcess(['--json', 'devices', 'add', '--ssh', `${testUser}@127.0.0.1:${sshd.port}`, '--agent-prefix', agent.prefix, '--name', 'pi-07'], env);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const added = DeviceSchema.parse((JSON.parse(run.stdout) as { device: unknown }).device);
    expect(added.link).toEqual({ kind: 'ssh', host: '127.0.0.1', port: sshd.port, username: testUser, agentPrefix: agent.prefix });

    const services = await createAppServices({ dataDir, version: 'test' });
    try {
      const h = services.handlers;
      const scan = await h['devices.scanHostKey']({ id: added.id });
      expect(scan.fingerprint).toBe(sshd.fingerprint);
      await h['devices.trustHostKey']({ id: added.id, fingerprint: scan.fingerprint });
      const first = await h['devices.connect']({ id: added.id, password: testPassword });
      expect(first.device).toMatchObject({ agentDeviceId: 'pi-07', lastError: null });
      const again = await h['devices.connect']({ id: added.id });
      expect(again.device.journalId).toBe(first.device.journalId);
    } finally {
      await services.close();
    }
  });
});
