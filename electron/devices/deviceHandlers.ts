/** The devices.* methods of the app API. */
import { appError, FieldkitError, isFieldkitError } from '../../shared/errors.ts';
import type { EventBus } from '../kernel/api/eventBus.ts';
import type { ApiHandlers } from '../kernel/api/dispatch.ts';
import type { JobRunner } from '../kernel/jobs/jobRunner.ts';
import type { devicesJobKinds } from './jobKinds.ts';
import { loadOrCreateAppSshKey, type AppSshKey } from '../kernel/link/appSshKey.ts';
import type { Store } from '../kernel/store/openStore.ts';
import { agentRpcCommand, openAgentSession, openDeviceLink, scanHostKey } from './deviceConnection.ts';
import { createDeviceStore, serialPasswordSecret, type DeviceStore } from './deviceStore.ts';
import type { SecretStore } from '../kernel/secrets/secretStore.ts';

type DeviceMethods = 'devices.list' | 'devices.add' | 'devices.update' | 'devices.remove' | 'devices.scanHostKey' | 'devices.trustHostKey' | 'devices.forgetHostKey' | 'devices.connect' | 'devices.discover';

export function createDeviceHandlers(deps: { db: Store; events: EventBus; jobs: JobRunner<typeof devicesJobKinds>; dataDir: string; secrets: SecretStore; now?: () => number }): {
  handlers: Pick<ApiHandlers, DeviceMethods>;
  devices: DeviceStore;
  appKey(): AppSshKey;
} {
  const devices = createDeviceStore(deps.db);
  const now = deps.now ?? Date.now;
  let key: AppSshKey | null = null;
  const appKey = () => (key ??= loadOrCreateAppSshKey(deps.dataDir));
  const changed = () => {
    deps.events.emit('devices.changed', { devices: devices.list() });
  };
  /** Runs a synchronous store change, announces it, and answers as a promise (throws become rejections). */
  const change = <T>(fn: () => T): Promise<T> =>
    new Promise<T>((resolve) => {
      resolve(fn());
    }).then((value) => {
      changed();
      return value;
    });

  const handlers: Pick<ApiHandlers, DeviceMethods> = {
    'devices.list': () => Promise.resolve({ devices: devices.list() }),
    'devices.add': ({ name, site, link }) => change(() => ({ device: devices.add({ name, site, link }, now()) })),
    'devices.update': ({ id, name, site }) => change(() => ({ device: devices.update(id, { name, site }) })),
    'devices.remove': async ({ id }) => {
      const result = await change(() => {
        devices.remove(id);
        return { removed: id };
      });
      await deps.secrets.set(serialPasswordSecret(id), '');
      return result;
    },
    'devices.scanHostKey': async ({ id }) => {
      const device = devices.get(id);
      return { fingerprint: await scanHostKey(device, appKey()), pinned: device.hostKeyFingerprint };
    },
    'devices.trustHostKey': async ({ id, fingerprint }) => {
      const device = devices.get(id);
      // Look again: the key pinned must be the one the device shows now, not only the
      // one the technician read a minute ago.
      const current = await scanHostKey(device, appKey());
      if (current !== fingerprint) {
        throw new FieldkitError(
          appError('HOST_KEY_CHANGED', `${device.name} now shows ${current}, not ${fingerprint}. Nothing was pinned.`, 'Scan the host key again and compare it with the one on the Pi.', 'fingerprint'),
        );
      }
      if (device.hostKeyFingerprint !== null && device.hostKeyFingerprint !== fingerprint) {
        throw new FieldkitError(
          appError('HOST_KEY_CHANGED', `${device.name} already has another host key pinned (${device.hostKeyFingerprint}).`, 'Forget the pinned key first if the Pi was really reinstalled.', 'fingerprint'),
        );
      }
      return change(() => ({ device: devices.pinHostKey(id, fingerprint) }));
    },
    'devices.forgetHostKey': ({ id }) => change(() => ({ device: devices.pinHostKey(id, null) })),
    'devices.connect': async ({ id, password }) => {
      const device = devices.get(id);
      const serialSecret = serialPasswordSecret(id);
      const usePassword = password ?? (device.link.kind === 'serial' ? ((await deps.secrets.get(serialSecret)) ?? undefined) : undefined);
      try {
        const link = await openDeviceLink(device, { appKey: appKey(), password: usePassword === '' ? undefined : usePassword });
        // SSH needs the password once (fieldkit's key is installed); a serial console asks
        // at every login, so its password is kept in the secret store for later pulls.
        if (device.link.kind === 'serial' && password !== undefined) await deps.secrets.set(serialSecret, password);
        try {
          const session = await openAgentSession(link, agentRpcCommand(device));
          await session.close();
          const updated = devices.recordContact(id, {
            agentDeviceId: session.hello.device_id,
            journalId: session.hello.journal_id,
            agentVersion: session.hello.agent_version,
            modelVersion: session.hello.model_version,
            clockOffsetMs: session.clockOffsetMs,
            atMs: now(),
          });
          changed();
          return { device: updated, roundTripMs: session.roundTripMs };
        } finally {
          await link.close();
        }
      } catch (error) {
        devices.recordError(id, isFieldkitError(error) ? error.appError.message : String(error));
        changed();
        throw error;
      }
    },
    'devices.discover': ({ subnet, port, mdns, serial }) => {
      const job = deps.jobs.start('devices.discover', { subnet, port, mdns, serial, known: [...devices.knownAddresses()] });
      return Promise.resolve({ jobId: job.id });
    },
  };
  return { handlers, devices, appKey };
}
