/**
 * Handlers for every method of the contract that answer with fixed, contract-valid values
 * and record what they were called with: enough to exercise a carrier without the real
 * services. A new method in shared/api.ts fails typechecking here until it has a stub
 * and a sample request.
 */
import type { MethodName, RequestOf } from '../../../shared/api.ts';
import type { ClickHouseSettingsView } from '../../../shared/clickhouseSettings.ts';
import type { Device } from '../../../shared/devices.ts';
import type { JobRecord } from '../../../shared/jobs.ts';
import type { TrustedKey } from '../../../shared/trust.ts';
import type { ImageSummary } from '../../../shared/flash.ts';
import type { BundleSummary, Rollout } from '../../../shared/deploy.ts';
import { defaultHealthThresholds, type DeviceHealthView } from '../../../shared/fleetHealth.ts';
import type { ApiHandlers } from '../../../electron/kernel/api/dispatch.ts';
import { createBackupStubs, sampleBackupRequests } from './backupStubs.ts';
import { createRecoveryStubs, sampleRecoveryRequests } from './recoveryStubs.ts';

export const sampleJob: JobRecord = {
  id: 'job_abc123',
  kind: 'drives.readCheck',
  title: 'Read check of /dev/sdz',
  params: { device: '/dev/sdz' },
  state: 'running',
  progress: { phase: 'reading', bytesDone: 1024, bytesTotal: 4096, unit: 'bytes', rateBytesPerSec: null, etaSeconds: null },
  createdAt: 1_700_000_000_000,
  endedAt: null,
  result: null,
  error: null,
  log: [],
};

/** One valid request per method. */
export const sampleDevice: Device = {
  id: 'dev_abc123',
  name: 'pi-07',
  site: 'depot',
  link: { kind: 'ssh', host: '10.0.0.7', port: 22, username: 'pi', agentPrefix: '/opt/fieldkit-agent' },
  hostKeyFingerprint: null,
  agentDeviceId: null,
  journalId: null,
  agentVersion: null,
  modelVersion: null,
  clockOffsetMs: null,
  lastSeenMs: null,
  lastError: null,
  addedMs: 1_700_000_000_000,
};

export const sampleHealthView: DeviceHealthView = {
  deviceId: sampleDevice.id,
  deviceName: sampleDevice.name,
  site: sampleDevice.site,
  status: 'connecting',
  sample: null,
  lastSampleMs: null,
  alerts: [],
  linkError: null,
};

export const sampleRequests: { [M in MethodName]: RequestOf<M> } = {
  'app.info': {},
  'drives.list': { imageSizeBytes: 8_000_000_000 },
  'drives.readCheck': { device: '/dev/sdz', maxBytes: 4096 },
  'jobs.list': { limit: 10 },
  'jobs.get': { jobId: sampleJob.id },
  'jobs.cancel': { jobId: sampleJob.id },
  'devices.list': {},
  'devices.add': { link: { kind: 'ssh', host: '10.0.0.7' } },
  'devices.update': { id: sampleDevice.id, name: 'pi-08' },
  'devices.remove': { id: sampleDevice.id },
  'devices.scanHostKey': { id: sampleDevice.id },
  'devices.trustHostKey': { id: sampleDevice.id, fingerprint: `SHA256:${'A'.repeat(43)}` },
  'devices.forgetHostKey': { id: sampleDevice.id },
  'devices.connect': { id: sampleDevice.id },
  'devices.discover': { subnet: '10.0.0.0/24' },
  'devices.provision': { id: sampleDevice.id, identity: { hostname: 'pi-017', deviceId: 'pi-017', site: 'north' }, network: { mode: 'static', address: '10.0.0.17/24', gateway: '10.0.0.1', dns: ['10.0.0.1'] } },
  'courier.pull': { id: sampleDevice.id },
  'courier.visit': { site: 'north-field', parallel: 4 },
  'courier.status': {},
  'courier.forward': { batchRows: 20_000 },
  'courier.reconcile': { deviceId: 'pi-07' },
  'courier.quarantine.list': {},
  'courier.quarantine.retry': { ids: [1] },
  'courier.quarantine.discard': { ids: [1], reason: 'sensor firmware bug, payload unrecoverable' },
  'settings.clickhouse.get': {},
  'settings.clickhouse.set': { url: 'https://ch.example.com:8443', user: 'fieldkit', password: 'secret', cluster: null },
  'settings.clickhouse.test': {},
  'trust.list': {},
  'trust.import': { publicKey: 'untrusted comment: minisign public key 0123456789ABCDEF\nRWQBI0VniavN7x7rhsNZ8WR2hNT9nbB1Q9+ajxaMr5jTaEGL0QfyZaTr\n', label: 'release key' },
  'trust.revoke': { keyId: 'EFCDAB8967452301', reason: 'laptop lost' },
  'settings.flash.get': {},
  'settings.flash.set': { allowUnsigned: true },
  'flash.browse': { dir: '/home/tech/Downloads' },
  'flash.inspect': { imagePath: '/home/tech/Downloads/edge-os-2.4.1.fkimg' },
  'flash.start': {
    imagePath: '/home/tech/Downloads/edge-os-2.4.1.fkimg',
    targets: [{ device: '/dev/sdb', expectSizeBytes: 31_914_983_424, identity: { deviceId: 'pi-07', hostname: 'pi-07', site: 'depot-3' } }],
  },
  'deploy.inspect': { bundlePath: '/home/tech/Downloads/fieldkit-agent-1.3.0-linux-arm64.tar' },
  'deploy.start': { bundlePath: '/home/tech/Downloads/fieldkit-agent-1.3.0-linux-arm64.tar', deviceIds: [sampleDevice.id], batches: [1, '20%'], maxFailurePercent: 10 },
  'deploy.list': { limit: 20 },
  'deploy.get': { rolloutId: 'ro_abc123' },
  'deploy.resume': { rolloutId: 'ro_abc123' },
  'slots.update': { deviceId: sampleDevice.id, imagePath: '/home/tech/Downloads/fieldkit-os-2.0.fkimg', rehearse: true, bootTimeoutSeconds: 120 },
  'health.watch': { deviceIds: [sampleDevice.id], leaseSeconds: 15 },
  'health.fleet': {},
  'health.device': { deviceId: sampleDevice.id },
  'health.history': { deviceId: sampleDevice.id },
  'settings.health.get': {},
  'settings.health.set': { tempWarningC: 75 },
  ...sampleBackupRequests,
  ...sampleRecoveryRequests,
};

export const sampleBundleSummary: BundleSummary = {
  path: '/home/tech/Downloads/fieldkit-agent-1.3.0-linux-arm64.tar',
  kind: 'agent',
  product: 'fieldkit-agent',
  version: '1.3.0',
  arch: 'arm64',
  signature: { status: 'trusted', keyId: 'EFCDAB8967452301', signer: 'release key' },
  files: [{ path: 'bin/node', size: 98_000_000, sha256: 'a'.repeat(64) }],
  totalBytes: 98_000_000,
  problems: [],
};

export const sampleRollout: Rollout = {
  id: 'ro_abc123',
  bundlePath: sampleBundleSummary.path,
  bundleKind: 'agent',
  version: '1.3.0',
  batches: [1, '20%'],
  maxFailurePercent: 10,
  state: 'stopped',
  stopReason: 'Stopped after batch 1 (the canary): 1 of 1 device failed (100%, the limit is 10%): pi-07.',
  jobId: null,
  createdAt: 1_700_000_000_000,
  updatedAt: 1_700_000_060_000,
  devices: [
    {
      deviceId: sampleDevice.id,
      deviceName: sampleDevice.name,
      status: 'rolled-back',
      batch: 0,
      fromVersion: '1.2.0',
      toVersion: '1.3.0',
      gateFailed: 'service-stable',
      error: { code: 'UNAVAILABLE', message: 'fieldkit-agent.service restarted 3 times in 10 s.', hint: 'Read the unit log below; fix the bundle and resume.' },
      unitLog: ['fieldkit-agent.service: Main process exited, code=exited, status=1/FAILURE'],
      bytesSent: 1_200_000,
      startedAt: 1_700_000_001_000,
      endedAt: 1_700_000_030_000,
      transcript: [{ at: 1_700_000_001_000, step: 'preflight', command: 'uname -m', exitCode: 0, output: 'aarch64\n', durationMs: 12 }],
    },
  ],
};

export const sampleImageSummary: ImageSummary = {
  path: '/home/tech/Downloads/edge-os-2.4.1.fkimg',
  fileBytes: 412_000_000,
  kind: 'signed',
  signature: { status: 'trusted', keyId: 'EFCDAB8967452301', signer: 'release key', revokedReason: null },
  product: 'edge-os',
  version: '2.4.1',
  sequence: 41,
  issuedAt: '2026-11-01T00:00:00Z',
  expiresAt: '2027-11-01T00:00:00Z',
  boards: ['pi5', 'cm4'],
  compression: 'zstd',
  rawBytes: 4_294_967_296,
  mappedBytes: 1_610_612_736,
  layout: null,
  firstBoot: 'cloud-init',
  problems: [],
  warnings: [],
};

export const sampleTrustedKey: TrustedKey = {
  keyId: 'EFCDAB8967452301',
  publicKey: 'RWQBI0VniavN7x7rhsNZ8WR2hNT9nbB1Q9+ajxaMr5jTaEGL0QfyZaTr',
  label: 'release key',
  addedMs: 1_700_000_000_000,
  revokedMs: null,
  revokedReason: null,
};

export const sampleClickHouseSettings: ClickHouseSettingsView = {
  url: 'https://ch.example.com:8443',
  user: 'fieldkit',
  database: 'default',
  table: 'telemetry',
  cluster: null,
  tls: { caFile: null, certFile: null, keyFile: null },
  batchRows: 50_000,
  passwordSet: true,
};

export type StubHandlers = { handlers: ApiHandlers; calls: Array<{ method: MethodName; params: unknown }> };

export function createStubHandlers(): StubHandlers {
  const calls: StubHandlers['calls'] = [];
  function record(method: MethodName, params: unknown): void {
    calls.push({ method, params });
  }
  const handlers: ApiHandlers = {
    'app.info': (params) => {
      record('app.info', params);
      return Promise.resolve({ name: 'fieldkit', version: '0.0.0-test', dataDir: '/tmp/fieldkit', platform: 'linux', arch: 'x64', runtime: 'Node test' });
    },
    'drives.list': (params) => {
      record('drives.list', params);
      return Promise.resolve({ drives: [] });
    },
    'drives.readCheck': (params) => {
      record('drives.readCheck', params);
      return Promise.resolve({ jobId: sampleJob.id });
    },
    'jobs.list': (params) => {
      record('jobs.list', params);
      return Promise.resolve({ jobs: [sampleJob] });
    },
    'jobs.get': (params) => {
      record('jobs.get', params);
      return Promise.resolve({ job: sampleJob });
    },
    'jobs.cancel': (params) => {
      record('jobs.cancel', params);
      return Promise.resolve({ job: { ...sampleJob, state: 'cancelled', endedAt: sampleJob.createdAt + 1 } });
    },
    'devices.list': (params) => {
      record('devices.list', params);
      return Promise.resolve({ devices: [sampleDevice] });
    },
    'devices.add': (params) => {
      record('devices.add', params);
      return Promise.resolve({ device: sampleDevice });
    },
    'devices.update': (params) => {
      record('devices.update', params);
      return Promise.resolve({ device: sampleDevice });
    },
    'devices.remove': (params) => {
      record('devices.remove', params);
      return Promise.resolve({ removed: sampleDevice.id });
    },
    'devices.scanHostKey': (params) => {
      record('devices.scanHostKey', params);
      return Promise.resolve({ fingerprint: `SHA256:${'A'.repeat(43)}`, pinned: null });
    },
    'devices.trustHostKey': (params) => {
      record('devices.trustHostKey', params);
      return Promise.resolve({ device: sampleDevice });
    },
    'devices.forgetHostKey': (params) => {
      record('devices.forgetHostKey', params);
      return Promise.resolve({ device: sampleDevice });
    },
    'devices.connect': (params) => {
      record('devices.connect', params);
      return Promise.resolve({ device: sampleDevice, roundTripMs: 3 });
    },
    'devices.discover': (params) => {
      record('devices.discover', params);
      return Promise.resolve({ jobId: sampleJob.id });
    },
    'devices.provision': (params) => {
      record('devices.provision', params);
      return Promise.resolve({ jobId: sampleJob.id });
    },
    'courier.pull': (params) => {
      record('courier.pull', params);
      return Promise.resolve({ jobId: sampleJob.id });
    },
    'courier.visit': (params) => {
      record('courier.visit', params);
      return Promise.resolve({ jobId: sampleJob.id, devices: 1 });
    },
    'courier.status': (params) => {
      record('courier.status', params);
      return Promise.resolve({ journals: [] });
    },
    'courier.forward': (params) => {
      record('courier.forward', params);
      return Promise.resolve({ jobId: sampleJob.id });
    },
    'courier.reconcile': (params) => {
      record('courier.reconcile', params);
      return Promise.resolve({ checkedMs: 1_700_000_000_000, serverVersion: '18.16.1', table: 'default.telemetry', journals: [] });
    },
    'courier.quarantine.list': (params) => {
      record('courier.quarantine.list', params);
      return Promise.resolve({ entries: [], quarantined: 0, discarded: 0 });
    },
    'courier.quarantine.retry': (params) => {
      record('courier.quarantine.retry', params);
      return Promise.resolve({ requeued: 1, jobId: sampleJob.id });
    },
    'courier.quarantine.discard': (params) => {
      record('courier.quarantine.discard', params);
      return Promise.resolve({ discarded: params.ids.length });
    },
    'settings.clickhouse.get': (params) => {
      record('settings.clickhouse.get', params);
      return Promise.resolve({ settings: sampleClickHouseSettings });
    },
    'settings.clickhouse.set': (params) => {
      record('settings.clickhouse.set', params);
      return Promise.resolve({ settings: sampleClickHouseSettings });
    },
    'settings.clickhouse.test': (params) => {
      record('settings.clickhouse.test', params);
      return Promise.resolve({ url: sampleClickHouseSettings.url, version: '18.16.1', dedupTokens: false, roundTripMs: 2, tablesExist: true });
    },
    'trust.list': (params) => {
      record('trust.list', params);
      return Promise.resolve({ keys: [sampleTrustedKey] });
    },
    'trust.import': (params) => {
      record('trust.import', params);
      return Promise.resolve({ key: { ...sampleTrustedKey, label: params.label } });
    },
    'trust.revoke': (params) => {
      record('trust.revoke', params);
      return Promise.resolve({ key: { ...sampleTrustedKey, revokedMs: 1_700_000_100_000, revokedReason: params.reason } });
    },
    'settings.flash.get': (params) => {
      record('settings.flash.get', params);
      return Promise.resolve({ settings: { allowUnsigned: false } });
    },
    'settings.flash.set': (params) => {
      record('settings.flash.set', params);
      return Promise.resolve({ settings: { allowUnsigned: params.allowUnsigned } });
    },
    'flash.browse': (params) => {
      record('flash.browse', params);
      return Promise.resolve({
        dir: params.dir ?? '/home/tech/Downloads',
        parent: '/home/tech',
        entries: [{ name: 'edge-os-2.4.1.fkimg', path: sampleImageSummary.path, kind: 'signed' as const, bytes: 412_000_000, modifiedMs: 1_700_000_000_000 }],
        recent: [sampleImageSummary.path],
      });
    },
    'flash.inspect': (params) => {
      record('flash.inspect', params);
      return Promise.resolve({ image: { ...sampleImageSummary, path: params.imagePath } });
    },
    'flash.start': (params) => {
      record('flash.start', params);
      return Promise.resolve({ jobId: 'job_flash01' });
    },
    'deploy.inspect': (params) => {
      record('deploy.inspect', params);
      return Promise.resolve({ bundle: { ...sampleBundleSummary, path: params.bundlePath } });
    },
    'deploy.start': (params) => {
      record('deploy.start', params);
      return Promise.resolve({ rolloutId: sampleRollout.id, jobId: 'job_deploy01' });
    },
    'deploy.list': (params) => {
      record('deploy.list', params);
      return Promise.resolve({ rollouts: [{ ...sampleRollout, devices: sampleRollout.devices.map((d) => ({ ...d, transcript: [] })) }] });
    },
    'deploy.get': (params) => {
      record('deploy.get', params);
      return Promise.resolve({ rollout: sampleRollout });
    },
    'deploy.resume': (params) => {
      record('deploy.resume', params);
      return Promise.resolve({ jobId: 'job_deploy02' });
    },
    'slots.update': (params) => {
      record('slots.update', params);
      return Promise.resolve({ jobId: 'job_slots01' });
    },
    'health.watch': (params) => {
      record('health.watch', params);
      return Promise.resolve({ watching: params.deviceIds ?? [sampleDevice.id], leaseUntilMs: 1_700_000_015_000 });
    },
    'health.fleet': (params) => {
      record('health.fleet', params);
      return Promise.resolve({ views: [sampleHealthView] });
    },
    'health.device': (params) => {
      record('health.device', params);
      return Promise.resolve({ view: { ...sampleHealthView, deviceId: params.deviceId }, recent: [] });
    },
    'health.history': (params) => {
      record('health.history', params);
      return Promise.resolve({ deviceId: params.deviceId, minutes: [], events: [], pulledAtMs: null });
    },
    'settings.health.get': (params) => {
      record('settings.health.get', params);
      return Promise.resolve({ thresholds: defaultHealthThresholds });
    },
    'settings.health.set': (params) => {
      record('settings.health.set', params);
      return Promise.resolve({ thresholds: { ...defaultHealthThresholds, ...(params.tempWarningC === undefined ? {} : { tempWarningC: params.tempWarningC }) } });
    },
    ...createBackupStubs(record),
    ...createRecoveryStubs(record),
  };
  return { handlers, calls };
}
