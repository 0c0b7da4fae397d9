/**
 * What deploy.* refuses before any job exists (a missing bundle, a demo device, a device
 * already in a running rollout, resuming a running rollout), and how the app treats a
 * rollout a killed app left running: stopped at the next start, resumable.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createAppServices, type AppServices } from '../../electron/app/appServices.ts';
import { createRolloutStore } from '../../electron/deploy/rolloutStore.ts';
import { openStore } from '../../electron/kernel/store/openStore.ts';
import { failure } from '../support/failure.ts';
import { makeTempDir } from '../support/tempDir.ts';

let dir: ReturnType<typeof makeTempDir>;
let services: AppServices;

beforeEach(async () => {
  dir = makeTempDir('fieldkit-rollout-api-');
  services = await createAppServices({ dataDir: dir.path, version: '0.0.0-test', demo: false });
});
afterEach(async () => {
  await services.close();
  dir.remove();
});

async function sshDevice(name: string, host: string): Promise<string> {
  const { device } = await services.handlers['devices.add']({ name, link: { kind: 'ssh', host, port: 22, username: 'pi', agentPrefix: '/opt/fieldkit-agent' } });
  return device.id;
}

/** A rollout as a killed app leaves it: running, its job gone, one device mid-deploy. */
function leaveRunningRollout(deviceIds: string[]): string {
  const db = openStore(dir.path);
  try {
    const store = createRolloutStore(db);
    const id = 'ro_leftrunning1';
    store.create({
      id,
      bundlePath: '/nowhere/fieldkit-agent-2.0.0-linux-x64.tar',
      bundleKind: 'agent',
      version: '2.0.0',
      batches: [1],
      maxFailurePercent: 0,
      settings: { order: 'given', seed: 3, stableSeconds: 5 },
      plan: deviceIds.map((deviceId) => [{ deviceId, deviceName: deviceId }]),
      now: Date.now(),
    });
    store.attachJob(id, 'job_killedapp01', Date.now());
    store.deviceStarted(id, deviceIds[0] ?? '', Date.now());
    return id;
  } finally {
    db.close();
  }
}

describe('deploy.* handlers', () => {
  it('refuses a bundle that is not there, naming it, and records nothing', async () => {
    const id = await sshDevice('pi-01', '10.0.0.1');
    const error = await failure(services.handlers['deploy.start']({ bundlePath: '/nowhere/agent.tar', deviceIds: [id], maxFailurePercent: 0, order: 'given', stableSeconds: 10 }));
    expect(error.message).toContain('Nothing was deployed');
    expect(error.message).toContain('/nowhere/agent.tar');
    expect(error.field).toBe('bundlePath');
    expect((await services.handlers['deploy.list']({ limit: 10 })).rollouts).toEqual([]);
    expect(services.jobs.list({ limit: 10 })).toEqual([]);
    const { bundle } = await services.handlers['deploy.inspect']({ bundlePath: '/nowhere/agent.tar' });
    expect(bundle.problems[0]?.hint.length).toBeGreaterThan(10);
  });

  it('refuses demo devices that run on this computer', async () => {
    const { device } = await services.handlers['devices.add']({ name: 'demo-1', link: { kind: 'local', agentCommand: 'true' } });
    const error = await failure(services.handlers['deploy.start']({ bundlePath: '/nowhere/agent.tar', deviceIds: [device.id], maxFailurePercent: 0, order: 'given', stableSeconds: 10 }));
    expect(error.code).toBe('BAD_REQUEST');
    expect(error.message).toContain('demo-1 runs on this computer');
  });

  it('refuses an unknown device and an unknown rollout by name', async () => {
    expect((await failure(services.handlers['deploy.start']({ bundlePath: '/x.tar', deviceIds: ['dev_nothere1'], maxFailurePercent: 0, order: 'given', stableSeconds: 10 }))).code).toBe('NOT_FOUND');
    const missing = await failure(services.handlers['deploy.get']({ rolloutId: 'ro_nothere1' }));
    expect(missing.code).toBe('NOT_FOUND');
    expect(missing.hint).toContain('fieldkit rollout list');
  });

  it('stops a rollout a killed app left running at the next start, and resumes only a stopped one', async () => {
    const a = await sshDevice('pi-01', '10.0.0.1');
    const b = await sshDevice('pi-02', '10.0.0.2');
    const id = leaveRunningRollout([a, b]);

    // While it counts as running, its devices are busy and it cannot be resumed.
    const busy = await failure(services.handlers['deploy.start']({ bundlePath: '/nowhere/agent.tar', deviceIds: [b], maxFailurePercent: 0, order: 'given', stableSeconds: 10 }));
    expect(busy.code).toBe('CONFLICT');
    expect(busy.message).toContain(`rollout ${id}`);
    expect((await failure(services.handlers['deploy.resume']({ rolloutId: id }))).code).toBe('CONFLICT');

    // The app restarts: the job that ran it is gone, so the rollout is stopped and says why.
    await services.close();
    services = await createAppServices({ dataDir: dir.path, version: '0.0.0-test', demo: false });
    const { rollout } = await services.handlers['deploy.get']({ rolloutId: id });
    expect(rollout.state).toBe('stopped');
    expect(rollout.stopReason).toContain('fieldkit stopped while this rollout was running');
    expect(rollout.devices.map((d) => [d.status, d.error?.code ?? null])).toEqual([
      ['failed', 'INTERRUPTED'],
      ['skipped', null],
    ]);
    const listed = (await services.handlers['deploy.list']({ limit: 5 })).rollouts[0];
    expect(listed?.devices.every((d) => d.transcript.length === 0)).toBe(true);

    // Resuming re-checks the bundle first: gone from its path, so it is refused with why.
    const gone = await failure(services.handlers['deploy.resume']({ rolloutId: id }));
    expect(gone.message).toContain('Cannot resume');
    expect((await services.handlers['deploy.get']({ rolloutId: id })).rollout.state).toBe('stopped');
  });
});
