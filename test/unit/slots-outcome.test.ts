import { describe, expect, it } from 'vitest';
import { summarizeSlotUpdate, type SlotUpdateOutcome } from '../../shared/slots.ts';
import { slotDeviceResult } from '../../electron/deploy/slots/slotRollout.ts';

const base: SlotUpdateOutcome = { status: 'committed', imageVersion: 'fieldkit-os 2.0', fromSlot: 'a', toSlot: 'b', endSlot: 'b', bytesSent: 1000, durationMs: 5000, transcript: [] };
const unhealthy = { code: 'UNAVAILABLE' as const, message: 'failed units: fieldkit-inference.service', hint: 'Fix the image.' };

describe('slot update outcomes', () => {
  it('says in one line what happened and where the device ended', () => {
    expect(summarizeSlotUpdate(base)).toBe('fieldkit-os 2.0 committed (slot A → B); the device runs slot B.');
    expect(summarizeSlotUpdate({ ...base, status: 'rolled-back', endSlot: 'a', error: unhealthy })).toBe('fieldkit-os 2.0 not committed; the device is back on slot A: failed units: fieldkit-inference.service');
    expect(summarizeSlotUpdate({ ...base, status: 'rehearsed', endSlot: 'a' })).toMatch(/^Rehearsal of fieldkit-os 2.0 passed: .* back on slot A\.$/);
    expect(summarizeSlotUpdate({ ...base, status: 'refused', fromSlot: null, toSlot: null, endSlot: null, imageVersion: null, error: unhealthy })).toMatch(/^Slot update refused, nothing written: /);
  });

  it('maps onto a rollout device result: the slot is the version before', () => {
    expect(slotDeviceResult(base, 'x')).toEqual({ status: 'updated', fromVersion: 'slot A', toVersion: 'fieldkit-os 2.0', gateFailed: null, unitLog: [], bytesSent: 1000, error: null });
    expect(slotDeviceResult({ ...base, status: 'rolled-back', error: unhealthy }, 'x')).toMatchObject({ status: 'rolled-back', error: unhealthy });
    expect(slotDeviceResult({ ...base, status: 'not-returned', error: unhealthy }, 'x').status).toBe('failed');
    expect(slotDeviceResult({ ...base, status: 'refused', imageVersion: null, fromSlot: null }, '3.0')).toMatchObject({ status: 'refused', toVersion: '3.0', fromVersion: null });
  });
});
