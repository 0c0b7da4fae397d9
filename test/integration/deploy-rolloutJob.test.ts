/**
 * The rollout job's orchestration against a real store: batches in order, the failure
 * threshold, skipped devices, cancel and resume. The per-device engine is replaced by a
 * scripted deployer here (its own tests run it against virtual Pis); everything else is
 * the code the worker runs.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { BatchSize, DeviceDeployStatus } from '../../shared/deploy.ts';
import { appError } from '../../shared/errors.ts';
import { createDeviceStore } from '../../electron/devices/deviceStore.ts';
import { JobCancelledError, JobFailedError, type JobContext } from '../../electron/kernel/jobs/jobContext.ts';
import { runRollout, type DeployRequest, type DeviceDeployer } from '../../electron/deploy/rolloutJob.ts';
import { planBatches } from '../../electron/deploy/rolloutPlan.ts';
import { createRolloutStore } from '../../electron/deploy/rolloutStore.ts';
import { openStore, type Store } from '../../electron/kernel/store/openStore.ts';
import { makeTempDir } from '../support/tempDir.ts';

let dir: ReturnType<typeof makeTempDir>;
let db: Store;

beforeEach(() => {
  dir = makeTempDir('fieldkit-rollout-');
  db = openStore(dir.path);
});
afterEach(() => {
  db.close();
  dir.remove();
});

function addDevices(n: number): { id: string; name: string }[] {
  const devices = createDeviceStore(db);
  return Array.from({ length: n }, (_, i) => {
    const d = devices.add({ name: `pi-${String(i + 1)}`, link: { kind: 'ssh', host: `10.0.0.${String(i + 1)}`, port: 22, username: 'pi', agentPrefix: '/opt/fieldkit-agent' } }, Date.now() + i);
    return { id: d.id, name: d.name };
  });
}

function createRollout(devices: { id: string; name: string }[], batches: BatchSize[], maxFailurePercent: number): string {
  const id = `ro_test${String(Math.floor(Math.random() * 1e9))}`;
  const plan = planBatches(devices.map((d) => d.id), batches, 'given', 1).map((batch) => batch.map((deviceId) => ({ deviceId, deviceName: devices.find((d) => d.id === deviceId)?.name ?? '' })));
  const store = createRolloutStore(db);
  store.create({ id, bundlePath: '/tmp/fieldkit-agent-2.0.0-linux-x64.tar', bundleKind: 'agent', version: '2.0.0', batches, maxFailurePercent, settings: { order: 'given', seed: 1, stableSeconds: 3 }, plan, now: Date.now() });
  store.attachJob(id, 'job_test000', Date.now());
  return id;
}

function context(controller = new AbortController()): JobContext & { logs: string[] } {
  const logs: string[] = [];
  return { signal: controller.signal, progress: () => undefined, log: (_level, message) => logs.push(message), secrets: {}, logs };
}

/** Deploys by script: each device's name maps to the status it ends in (default updated). */
function scripted(statuses: Record<string, DeviceDeployStatus>, seen: string[] = []): DeviceDeployer {
  return (request: DeployRequest) => {
    seen.push(request.device.name);
    request.onTranscript({ at: Date.now(), step: 'preflight', command: 'uname -m', exitCode: 0, output: 'x86_64\n', durationMs: 3 });
    const status = statuses[request.device.name] ?? 'updated';
    const bad = status !== 'updated' && status !== 'unchanged';
    return Promise.resolve({
      status,
      fromVersion: '1.0.0',
      toVersion: '2.0.0',
      gateFailed: status === 'rolled-back' ? 'service-stable' : null,
      error: bad ? appError('UNAVAILABLE', 'the agent restarted 3 times in 10 s', 'read the unit log') : null,
      unitLog: status === 'rolled-back' ? ['fieldkit-agent.service: Main process exited, code=exited, status=1/FAILURE'] : [],
      bytesSent: 1000,
    });
  };
}

describe('runRollout', () => {
  it('deploys batch by batch and completes, recording outcomes and transcripts', async () => {
    const devices = addDevices(5);
    const id = createRollout(devices, [1, '50%'], 0);
    const seen: string[] = [];
    const result = await runRollout({ dataDir: dir.path, rolloutId: id, version: '2.0.0', deviceCount: 5, resumed: false }, context(), () => scripted({}, seen));
    expect(result.rollout.state).toBe('completed');
    expect(result.rollout.devices.map((d) => [d.deviceName, d.batch, d.status])).toEqual([
      ['pi-1', 0, 'updated'],
      ['pi-2', 1, 'updated'],
      ['pi-3', 1, 'updated'],
      ['pi-4', 1, 'updated'],
      ['pi-5', 2, 'updated'],
    ]);
    expect(seen[0]).toBe('pi-1'); // the canary first, alone
    const full = createRolloutStore(db).get(id);
    expect(full.devices[0]?.transcript[0]?.command).toBe('uname -m');
    expect(full.devices[0]?.fromVersion).toBe('1.0.0');
    // The Devices screen now knows what each runs.
    expect(createDeviceStore(db).list().map((d) => d.agentVersion)).toEqual(['2.0.0', '2.0.0', '2.0.0', '2.0.0', '2.0.0']);
  });

  it('stops after a failed canary: later batches skipped and untouched, the reason names the canary', async () => {
    const devices = addDevices(5);
    const id = createRollout(devices, [1, '50%'], 0);
    const seen: string[] = [];
    const ctx = context();
    const error = await runRollout({ dataDir: dir.path, rolloutId: id, version: '2.0.0', deviceCount: 5, resumed: false }, ctx, () => scripted({ 'pi-1': 'rolled-back' }, seen)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(JobFailedError);
    expect((error as JobFailedError).appError.code).toBe('ROLLOUT_STOPPED');
    expect(seen).toEqual(['pi-1']);
    const rollout = createRolloutStore(db).get(id);
    expect(rollout.state).toBe('stopped');
    expect(rollout.stopReason).toContain('batch 1 (the canary)');
    expect(rollout.stopReason).toContain('pi-1');
    expect(rollout.devices.map((d) => d.status)).toEqual(['rolled-back', 'skipped', 'skipped', 'skipped', 'skipped']);
    expect(rollout.devices[0]?.gateFailed).toBe('service-stable');
    expect(rollout.devices[0]?.unitLog[0]).toContain('FAILURE');
    // Rolled back: it runs the old version again; the skipped ones were never asked.
    expect(createDeviceStore(db).list().map((d) => d.agentVersion)).toEqual(['1.0.0', null, null, null, null]);
    expect(ctx.logs.some((l) => l.startsWith('pi-1: rolled back to 1.0.0 (gate service-stable failed)'))).toBe(true);
  });

  it('carries on when failures stay within the limit', async () => {
    const devices = addDevices(4);
    const id = createRollout(devices, [2], 50);
    const result = await runRollout({ dataDir: dir.path, rolloutId: id, version: '2.0.0', deviceCount: 4, resumed: false }, context(), () => scripted({ 'pi-2': 'refused' }));
    expect(result.rollout.state).toBe('completed');
    expect(result.rollout.devices.map((d) => d.status)).toEqual(['updated', 'refused', 'updated', 'updated']);
  });

  it('turns a deployer that throws into a failed device with the error', async () => {
    const devices = addDevices(1);
    const id = createRollout(devices, [1], 0);
    const throwing: DeviceDeployer = () => Promise.reject(new Error('link dropped'));
    await expect(runRollout({ dataDir: dir.path, rolloutId: id, version: '2.0.0', deviceCount: 1, resumed: false }, context(), () => throwing)).rejects.toBeInstanceOf(JobFailedError);
    const device = createRolloutStore(db).get(id).devices[0];
    expect(device?.status).toBe('failed');
    expect(device?.error?.message).toContain('link dropped');
  });

  it('on cancel finishes the devices in flight, starts no more, and resumes with only the unfinished ones', async () => {
    const devices = addDevices(12);
    const id = createRollout(devices, [12], 0);
    const controller = new AbortController();
    const seen: string[] = [];
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const slow: DeviceDeployer = async (request) => {
      seen.push(request.device.name);
      if (seen.length === 8) {
        controller.abort('cancelled by the technician');
        release();
      }
      await gate;
      return scripted({})(request);
    };
    const error = await runRollout({ dataDir: dir.path, rolloutId: id, version: '2.0.0', deviceCount: 12, resumed: false }, context(controller), () => slow).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(JobCancelledError);
    expect(seen).toHaveLength(8); // the parallelism bound: 8 in flight, none started after the cancel
    const store = createRolloutStore(db);
    const stopped = store.get(id);
    expect(stopped.state).toBe('stopped');
    expect(stopped.stopReason).toContain('cancelled by the technician');
    expect(stopped.devices.filter((d) => d.status === 'updated')).toHaveLength(8);
    expect(stopped.devices.filter((d) => d.status === 'skipped')).toHaveLength(4);

    store.attachJob(id, 'job_test001', Date.now());
    const again: string[] = [];
    const ctx = context();
    const result = await runRollout({ dataDir: dir.path, rolloutId: id, version: '2.0.0', deviceCount: 12, resumed: true }, ctx, () => scripted({}, again));
    expect(again.sort()).toEqual(['pi-10', 'pi-11', 'pi-12', 'pi-9']);
    expect(result.rollout.state).toBe('completed');
    expect(result.rollout.devices.every((d) => d.status === 'updated')).toBe(true);
    expect(ctx.logs[0]).toContain('8 of 12 devices already run this version');
  });

  it('marks a rollout left running by a dead app as stopped, its device in flight failed as interrupted', () => {
    const devices = addDevices(3);
    const id = createRollout(devices, [1], 0);
    const store = createRolloutStore(db);
    store.deviceStarted(id, devices[0]?.id ?? '', Date.now());
    expect(store.stopOrphans(() => false, Date.now())).toEqual([id]);
    const rollout = store.get(id);
    expect(rollout.state).toBe('stopped');
    expect(rollout.stopReason).toContain('fieldkit stopped');
    expect(rollout.devices.map((d) => d.status)).toEqual(['failed', 'skipped', 'skipped']);
    expect(rollout.devices[0]?.error?.code).toBe('INTERRUPTED');
    // A rollout whose job still runs (another fieldkit process) is left alone.
    store.attachJob(id, 'job_test002', Date.now());
    expect(store.stopOrphans(() => true, Date.now())).toEqual([]);
    expect(store.get(id).devices.map((d) => d.status)).toEqual(['pending', 'pending', 'pending']);
  });
});
