import { describe, expect, it } from 'vitest';
import type { BundleSummary, DeviceDeployOutcome, Rollout } from '../../shared/deploy.ts';
import { batchPreview, checkDeployForm } from '../../renderer/src/deploy/deployForm.ts';
import { canResume, countStatuses, groupByBatch, summarizeRollout } from '../../renderer/src/deploy/rolloutView.ts';

const bundle: BundleSummary = {
  path: '/home/tech/fieldkit-agent-1.3.0-linux-arm64.tar',
  kind: 'agent',
  product: 'fieldkit-agent',
  version: '1.3.0',
  arch: 'arm64',
  signature: { status: 'trusted', keyId: 'EFCDAB8967452301', signer: 'release key' },
  files: [],
  totalBytes: 0,
  problems: [],
};

function device(name: string, batch: number, status: DeviceDeployOutcome['status']): DeviceDeployOutcome {
  return { deviceId: `dev_${name.padEnd(6, '0')}`, deviceName: name, status, batch, fromVersion: '1.2.0', toVersion: '1.3.0', gateFailed: null, error: null, unitLog: [], bytesSent: 0, startedAt: null, endedAt: null, transcript: [] };
}

function rollout(state: Rollout['state'], devices: DeviceDeployOutcome[], stopReason: string | null = null): Rollout {
  return { id: 'ro_abc123', bundlePath: bundle.path, bundleKind: 'agent', version: '1.3.0', batches: [1, '50%'], maxFailurePercent: 0, state, stopReason, jobId: null, createdAt: 1, updatedAt: 2, devices };
}

describe('the Deploy form', () => {
  const valid = { bundle, deviceIds: ['dev_aaaaaa', 'dev_bbbbbb'], batchesText: '1, 50%', maxFailureText: '0', shuffle: true, stableText: '10' };

  it('builds the start request the service expects', () => {
    expect(checkDeployForm(valid)).toEqual({
      ok: true,
      request: { bundlePath: bundle.path, deviceIds: ['dev_aaaaaa', 'dev_bbbbbb'], batches: [1, '50%'], maxFailurePercent: 0, order: 'shuffle', stableSeconds: 10 },
    });
    const oneBatch = checkDeployForm({ ...valid, batchesText: '  ', shuffle: false });
    expect(oneBatch.ok && oneBatch.request.batches).toBeUndefined();
  });

  it('names every field that is wrong, with what to type', () => {
    const checked = checkDeployForm({ bundle: { ...bundle, problems: [{ code: 'VERIFICATION_FAILED', message: 'altered', hint: 'get it again' }] }, deviceIds: [], batchesText: '1, 0', maxFailureText: '120', shuffle: false, stableText: '0' });
    expect(checked.ok).toBe(false);
    if (checked.ok) return;
    expect(Object.keys(checked.errors).sort()).toEqual(['batches', 'bundle', 'devices', 'maxFailure', 'stable']);
    expect(checked.errors.batches).toContain('"0" is not a batch size');
    expect(checkDeployForm({ ...valid, bundle: null }).ok).toBe(false);
  });

  it('previews what the batches come to for the devices picked', () => {
    expect(batchPreview('1, 50%', 5)).toBe('3 batches: 1 + 3 + 1 devices (canary 1 first)');
    expect(batchPreview('', 4)).toBe('1 batch: 4 devices');
    expect(batchPreview('1, x', 4)).toBeNull();
    expect(batchPreview('1', 0)).toBeNull();
  });
});

describe('rollout views', () => {
  it('groups devices by batch, the first of several called the canary', () => {
    const groups = groupByBatch(rollout('running', [device('a', 0, 'updated'), device('b', 1, 'running'), device('c', 1, 'pending')]));
    expect(groups.map((g) => [g.label, g.devices.map((d) => d.deviceName)])).toEqual([
      ['Batch 1 · canary', ['a']],
      ['Batch 2', ['b', 'c']],
    ]);
    expect(groupByBatch(rollout('running', [device('a', 0, 'pending')]))[0]?.label).toBe('Batch 1');
  });

  it('counts and offers Resume only when devices remain and nothing runs', () => {
    const stopped = rollout('stopped', [device('a', 0, 'rolled-back'), device('b', 1, 'skipped'), device('c', 1, 'unchanged')], 'Stopped after batch 1 (the canary): …');
    expect(countStatuses(stopped.devices)).toEqual({ done: 1, failed: 1, running: 0, waiting: 1, total: 3 });
    expect(canResume(stopped)).toBe(true);
    expect(canResume({ ...stopped, state: 'running' })).toBe(false);
    expect(canResume(rollout('completed', [device('a', 0, 'updated')]))).toBe(false);
    expect(summarizeRollout({ rollout: stopped })).toBe('1.3.0: 1 of 3 devices on it, 1 failed or rolled back. Stopped after batch 1 (the canary): …');
    expect(summarizeRollout({ nope: true })).toBeNull();
  });
});
