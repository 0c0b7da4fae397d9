import { describe, expect, it } from 'vitest';
import { assertAgentIsDevice } from '../../electron/courier/agentIdentity.ts';
import { FieldkitError } from '../../shared/errors.ts';

const source = { id: 'd1', name: 'rpi-1', agentDeviceId: 'rpi-1' };
const spare = { id: 'd2', name: 'rpi-2', agentDeviceId: null };

function conflict(run: () => void): string {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(FieldkitError);
    if (error instanceof FieldkitError) {
      expect(error.appError.code).toBe('CONFLICT');
      return error.appError.message;
    }
  }
  throw new Error('not refused');
}

describe('who answered a pull', () => {
  it('accepts the agent registered for the device, and a first contact no other device claims', () => {
    expect(() => { assertAgentIsDevice(source, [source, spare], 'rpi-1'); }).not.toThrow();
    expect(() => { assertAgentIsDevice(spare, [source, spare], 'rpi-2'); }).not.toThrow();
  });

  it("refuses an agent answering as another registered device (a drilled spare) or not as the device's own id", () => {
    expect(conflict(() => { assertAgentIsDevice(spare, [source, spare], 'rpi-1'); })).toContain('answers as device rpi-1, which is rpi-1. Nothing was pulled');
    expect(conflict(() => { assertAgentIsDevice({ ...spare, agentDeviceId: 'rpi-2' }, [source, spare], 'elsewhere'); })).toContain('but rpi-2 is registered as device rpi-2');
  });
});
