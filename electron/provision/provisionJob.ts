/**
 * The devices.provision job: opens the serial device's console, provisions the Pi on it,
 * and registers (or updates) the SSH device it became, its host key pinned from what was
 * read over the cable. The serial device stays as it is: the cable moves on to the next Pi.
 */
import { z } from 'zod';
import type { TranscriptEntry } from '../../shared/deploy.ts';
import type { Device } from '../../shared/devices.ts';
import { appError, FieldkitError, isFieldkitError } from '../../shared/errors.ts';
import { ProvisionIdentitySchema, ProvisionNetworkSchema, type ProvisionJobResult, type ProvisionResult, type ProvisionStep } from '../../shared/provision.ts';
import { toAppError } from '../kernel/api/dispatch.ts';
import { createDeviceStore, linkKey, type DeviceStore } from '../devices/index.ts';
import { JobCancelledError, JobFailedError, type JobContext } from '../kernel/jobs/jobContext.ts';
import { loadOrCreateAppSshKey } from '../kernel/link/appSshKey.ts';
import { connectSerial } from '../kernel/link/serialLink.ts';
import { openStore } from '../kernel/store/openStore.ts';
import { provisionOverSerial } from './provisionOverSerial.ts';

export const ProvisionJobParamsSchema = z.object({
  dataDir: z.string(),
  deviceRef: z.string(),
  /** For the title: the serial port. */
  port: z.string(),
  identity: ProvisionIdentitySchema,
  network: ProvisionNetworkSchema,
  user: z.string(),
  sshHost: z.string().optional(),
  sshPort: z.number().int().optional(),
});
export type ProvisionJobParams = z.infer<typeof ProvisionJobParamsSchema>;

/** Job secrets (never in job history). */
export const provisionSecrets = { password: 'password', wifiPsk: 'wifiPsk' } as const;

export function provisionJobTitle(p: ProvisionJobParams): string {
  return `Provision ${p.identity.hostname} over ${p.port}`;
}

/** The steps in the order they run, for progress (wifi-country and usb-gadget only for their modes). */
function expectedSteps(p: ProvisionJobParams): number {
  return 5 + (p.network.mode === 'wifi' || p.network.mode === 'usb-gadget' ? 1 : 0) + 1;
}

/**
 * Adds the SSH device the Pi now is, or updates the one already registered at that address.
 * A different key already pinned there is not replaced silently, even though the new one
 * came over the cable: the technician forgets the old pin first.
 */
export function registerProvisionedDevice(devices: DeviceStore, result: ProvisionResult, options: { name: string; site: string; agentPrefix: string; nowMs: number }): Device {
  const link = { kind: 'ssh' as const, host: result.ssh.host, port: result.ssh.port, username: result.ssh.username, agentPrefix: options.agentPrefix };
  const key = linkKey(link);
  const existing = devices.list().find((d) => d.link.kind === 'ssh' && linkKey(d.link) === key);
  if (existing && existing.hostKeyFingerprint !== null && existing.hostKeyFingerprint !== result.sshHostKey) {
    throw new FieldkitError(
      appError(
        'HOST_KEY_CHANGED',
        `${existing.name} (${result.ssh.username}@${result.ssh.host}:${String(result.ssh.port)}) has ${existing.hostKeyFingerprint} pinned, but the Pi on the cable has ${result.sshHostKey}. The Pi is provisioned; its pin was not changed.`,
        `If that address now belongs to this Pi (reinstalled, or a new card), forget ${existing.name}'s host key in Devices and provision again (nothing is redone).`,
      ),
    );
  }
  const device = existing ? devices.update(existing.id, { name: options.name, site: options.site }) : devices.add({ name: options.name, site: options.site, link }, options.nowMs);
  return devices.pinHostKey(device.id, result.sshHostKey);
}

export async function runProvision(params: ProvisionJobParams, ctx: JobContext): Promise<ProvisionJobResult> {
  const db = openStore(params.dataDir);
  const steps: ProvisionStep[] = [];
  const transcript: TranscriptEntry[] = [];
  const partial = () => ({ steps, transcript });
  try {
    const devices = createDeviceStore(db);
    const serialDevice = devices.get(params.deviceRef);
    if (serialDevice.link.kind !== 'serial') {
      throw new FieldkitError(appError('BAD_REQUEST', `${serialDevice.name} is not a serial device.`, 'Provision over the serial device the Pi\'s console is on.', 'id'));
    }
    const total = expectedSteps(params);
    ctx.progress({ phase: 'logging in on the console', bytesDone: 0, bytesTotal: total, unit: 'items' });
    const password = ctx.secrets[provisionSecrets.password];
    const link = await connectSerial({
      target: { path: serialDevice.link.path, baudRate: serialDevice.link.baudRate },
      credentials: password === undefined ? null : { username: serialDevice.link.username, password },
    });
    let result: ProvisionResult;
    try {
      result = await provisionOverSerial({
        link,
        identity: params.identity,
        appKey: loadOrCreateAppSshKey(params.dataDir),
        user: params.user,
        network: params.network,
        wifiPsk: ctx.secrets[provisionSecrets.wifiPsk],
        sshHost: params.sshHost,
        sshPort: params.sshPort,
        signal: ctx.signal,
        onTranscript: (entry) => transcript.push(entry),
        onStep: (step) => {
          steps.push(step);
          ctx.log('info', `${step.name}: ${step.changed ? 'changed' : 'unchanged'} — ${step.detail}`);
          ctx.progress({ phase: step.name, bytesDone: Math.min(steps.length, total), bytesTotal: total, unit: 'items' });
        },
      });
    } finally {
      await link.close();
    }
    const device = registerProvisionedDevice(devices, result, {
      name: params.identity.hostname,
      site: params.identity.site,
      agentPrefix: serialDevice.link.agentPrefix,
      nowMs: Date.now(),
    });
    ctx.log('info', `${device.name} registered at ${result.ssh.username}@${result.ssh.host}:${String(result.ssh.port)}, host key ${result.sshHostKey} pinned (read over the serial cable)`);
    return { ...result, device };
  } catch (error) {
    if (isFieldkitError(error) && error.appError.code === 'CANCELLED') throw new JobCancelledError(error.appError.message, partial());
    throw new JobFailedError(toAppError(error), partial());
  } finally {
    db.close();
  }
}
