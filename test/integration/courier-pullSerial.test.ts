import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAppServices, type AppServices } from '../../electron/app/appServices.ts';
import { PullResultSchema } from '../../shared/courier.ts';
import { connectSerial } from '../../electron/kernel/link/serialLink.ts';
import { ingestWithAgentCli, syntheticEvents } from '../support/agentEvents.ts';
import { installTestAgent, type TestAgentInstall } from '../support/installTestAgent.ts';
import { printk, startLoginConsole, startShellConsole, type TestConsole } from '../support/serialConsole.ts';
import { testPassword, testUser } from '../support/sshd.ts';
import { makeTempDir } from '../support/tempDir.ts';

/** A courier pull over a serial console (autologin UART), through kernel noise, its batches zstd-compressed. */
describe('pull over a serial console', () => {
  const dir = makeTempDir();
  let tty: TestConsole;
  let agent: TestAgentInstall;
  let services: AppServices;

  beforeAll(async () => {
    [tty, agent] = await Promise.all([startShellConsole(), installTestAgent({ deviceId: 'pi-uart', owner: testUser })]);
    ingestWithAgentCli(join(agent.prefix, 'current', 'bin', 'fieldkit-agent'), syntheticEvents(1500, { payloadBytes: 100 }), testUser);
    services = await createAppServices({ dataDir: join(dir.path, 'data'), version: 'test' });
  });

  afterAll(async () => {
    await services.close();
    await tty.stop();
    agent.remove();
    dir.remove();
  });

  it('pulls every record once while the kernel writes to the console, and leaves the shell usable', async () => {
    // The console's own terminal, where printk output would appear.
    const probe = await connectSerial({ target: { path: tty.path }, credentials: null });
    const remoteTty = (await probe.exec('tty')).stdout.toString().trim();
    await probe.close();
    const { device } = await services.handlers['devices.add']({ name: 'pi-uart', link: { kind: 'serial', path: tty.path, baudRate: 115200, username: testUser, agentPrefix: agent.prefix } });
    const noise = setInterval(() => {
      printk(remoteTty, 'mmc0: timeout waiting for hardware interrupt');
    }, 50);
    let record;
    try {
      const { jobId } = await services.handlers['courier.pull']({ id: device.id });
      record = await services.jobs.whenFinished(jobId);
    } finally {
      clearInterval(noise);
    }
    expect(record.error).toBeNull();
    const result = PullResultSchema.parse(record.result);
    expect(result.journals[0]).toMatchObject({ new_records: 1500, contiguous_seq: 1500 });
    // A serial line is where compression pays most: the batches crossed it zstd-compressed.
    expect(result.transfer?.compressedFrames).toBeGreaterThan(0);
    expect(result.transfer?.bytesIn ?? Infinity).toBeLessThan(result.transfer?.decompressedBytes ?? 0);
    const after = await connectSerial({ target: { path: tty.path }, credentials: null });
    expect((await after.exec('echo back')).stdout.toString()).toBe('back\n');
    await after.close();
  });

  it('logs in with the password at connect, and pulls afterwards without asking again', async () => {
    const login = await startLoginConsole();
    try {
      const { device } = await services.handlers['devices.add']({ name: 'pi-uart-login', link: { kind: 'serial', path: login.path, baudRate: 115200, username: testUser, agentPrefix: agent.prefix } });
      await expect(services.handlers['devices.connect']({ id: device.id })).rejects.toThrow(/asks for a login/);
      const { device: seen } = await services.handlers['devices.connect']({ id: device.id, password: testPassword });
      expect(seen.agentDeviceId).toBe('pi-uart');
      // The same Pi is still registered as pi-uart (the first test): a pull under a second
      // entry is refused, saying so, until one of the two entries is removed.
      const refused = await services.jobs.whenFinished((await services.handlers['courier.pull']({ id: device.id })).jobId);
      expect(refused.error).toMatchObject({ code: 'CONFLICT', hint: expect.stringContaining('are the same Pi reached two ways, pull it as pi-uart, or remove one of the two entries') as unknown });
      const { devices } = await services.handlers['devices.list']({});
      const first = devices.find((d) => d.name === 'pi-uart');
      if (first === undefined) throw new Error('pi-uart is not registered');
      await services.handlers['devices.remove']({ id: first.id });
      const { jobId } = await services.handlers['courier.pull']({ id: device.id });
      const record = await services.jobs.whenFinished(jobId);
      expect(record.error).toBeNull();
      expect(JSON.stringify(record)).not.toContain(testPassword);
    } finally {
      await login.stop();
    }
  });
});
