import { describe, expect, it } from 'vitest';
import type { Device } from '../../shared/devices.ts';
import { newDeviceState, recordSample, viewOf } from '../../electron/health/deviceHealthState.ts';
import type { HealthSample } from '../../shared/health.ts';

/** One "last seen": Health says when the device last answered anything, as Devices does — not "never" after a pull. */
const device: Device = {
  id: 'dev_1',
  name: 'pi-07',
  site: 'north',
  link: { kind: 'local', agentCommand: 'fieldkit-agent rpc' },
  hostKeyFingerprint: null,
  agentDeviceId: 'pi-07',
  journalId: 'j1',
  agentVersion: '1.0.0',
  modelVersion: null,
  clockOffsetMs: 0,
  lastSeenMs: 50_000,
  lastError: null,
  addedMs: 1000,
};

function sample(atMs: number): HealthSample {
  return {
    at_ms: atMs,
    device_id: 'pi-07',
    uptime_s: 100,
    cpu_pct: 12,
    load: [0.1, 0.1, 0.1],
    mem_total_bytes: 4e9,
    mem_available_bytes: 3e9,
    disks: [],
    temp_c: 50,
    throttling: null,
    volt_alarm: null,
    emmc: null,
    nvme: null,
    journal: { records: 10, bytes: 100, backlog_records: 3, ingest_per_s: 20 },
    uplink: { state: 'off', last_forward_ms: null, last_error: null },
    agent_version: '1.0.0',
    model_version: null,
    inference: null,
  };
}

describe('last seen on Health', () => {
  it('is the last contact the device store knows (a pull, a connect) before any live sample', () => {
    expect(viewOf(device, undefined)).toMatchObject({ lastSampleMs: null, lastSeenMs: 50_000 });
    expect(viewOf(device, newDeviceState(device.id))).toMatchObject({ lastSampleMs: null, lastSeenMs: 50_000 });
  });

  it('is the newest of that and the live samples', () => {
    const state = newDeviceState(device.id);
    recordSample(state, sample(60_000), 60_100);
    expect(viewOf(device, state)).toMatchObject({ lastSampleMs: 60_100, lastSeenMs: 60_100 });
    expect(viewOf({ ...device, lastSeenMs: 90_000 }, state)).toMatchObject({ lastSampleMs: 60_100, lastSeenMs: 90_000 });
  });
});
