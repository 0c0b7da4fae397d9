/**
 * Who answered a pull. The courier stores records under (device_id, journal_id, seq) as the
 * agent's hello and records say; a device whose agent answers with a device id that is not its
 * own (a spare a drill restored another device's configuration onto, a card swapped into the
 * wrong Pi) would file its records under another device's keys — two different records under
 * one key, one of them silently dropped downstream — and move that device, in the fleet view,
 * to where it is not. So before anything is stored or the contact recorded, the agent's device
 * id must be the one registered for this device, and must not be another registered device's.
 */
import type { Device } from '../../shared/devices.ts';
import { appError, FieldkitError } from '../../shared/errors.ts';

/** Throws CONFLICT (nothing stored, no contact recorded) when `agentDeviceId` is not `device`'s. */
export function assertAgentIsDevice(device: Pick<Device, 'id' | 'name' | 'agentDeviceId'>, registered: readonly Pick<Device, 'id' | 'name' | 'agentDeviceId'>[], agentDeviceId: string): void {
  if (device.agentDeviceId !== null && device.agentDeviceId !== agentDeviceId) {
    throw new FieldkitError(
      appError('CONFLICT', `The agent on ${device.name} answers as device ${agentDeviceId}, but ${device.name} is registered as device ${device.agentDeviceId}. Nothing was pulled: its records would be filed under another device's journal.`, `If a restore drill put another device's state on ${device.name}, re-flash ${device.name} (or delete its agent's config and data folder and deploy the agent again) before pulling it; if ${device.name} really was re-provisioned as ${agentDeviceId}, remove it and add it again.`),
    );
  }
  const owner = registered.find((d) => d.id !== device.id && d.agentDeviceId === agentDeviceId);
  if (owner !== undefined) {
    throw new FieldkitError(
      appError('CONFLICT', `The agent on ${device.name} answers as device ${agentDeviceId}, which is ${owner.name}. Nothing was pulled: ${device.name}'s records would be filed under ${owner.name}'s keys, and ${owner.name} would seem to be where ${device.name} is.`, `If ${device.name} and ${owner.name} are the same Pi reached two ways, pull it as ${owner.name}, or remove one of the two entries. If a restore drill left ${owner.name}'s state on ${device.name}, re-flash ${device.name} (or delete its agent's config and data folder and deploy the agent again) before pulling it; if ${device.name} now replaces ${owner.name}, use fieldkit replace ${owner.name}.`),
    );
  }
}
