/**
 * One device's live health: open its link, start the agent's RPC, and follow
 * `health.watch` until stopped. Any failure (link refused, agent gone, stream silent) is
 * reported and retried with backoff, by itself, forever: a Pi that reboots comes back
 * without the technician doing anything.
 */
import type { Device } from '../../shared/devices.ts';
import { isFieldkitError } from '../../shared/errors.ts';
import type { HealthSample } from '../../shared/health.ts';
import { agentRpcCommand, openAgentSession, openDeviceLink } from '../devices/index.ts';
import type { AppSshKey } from '../kernel/link/appSshKey.ts';

export type WatcherLinkState = 'connecting' | 'up' | 'down';

export type DeviceWatcherOptions = {
  /** Read at each attempt, so a changed link (address, agent command) is used on the next one. */
  device(): Device | null;
  appKey(): AppSshKey;
  /** A serial console logs in at every connection; its password is kept in the secret store. */
  serialPassword(device: Device): Promise<string | undefined>;
  onSample(sample: HealthSample): void;
  /** Link changes; `error` says why it is down (or why the last attempt failed, while connecting again). */
  onLink(state: WatcherLinkState, error: string | null): void;
  intervalMs?: number;
  /** First retry delay; doubles up to maxBackoffMs. A sample resets it. */
  backoffMs?: number;
  maxBackoffMs?: number;
  connectTimeoutMs?: number;
};

export type DeviceWatcher = {
  /** Stops following and closes the link; resolves once it is closed. */
  stop(): Promise<void>;
};

function describe(error: unknown): string {
  if (isFieldkitError(error)) return error.appError.message;
  return error instanceof Error ? error.message : String(error);
}

export function startDeviceWatcher(options: DeviceWatcherOptions): DeviceWatcher {
  const intervalMs = options.intervalMs ?? 1000;
  const firstBackoff = options.backoffMs ?? 500;
  const maxBackoff = options.maxBackoffMs ?? 8000;
  // An object, not a `let`: it changes while the loop awaits.
  const control = { stopped: false };
  const isStopped = (): boolean => control.stopped;
  let backoff = firstBackoff;
  let cancelCurrent: (() => void) | null = null;
  let wakeSleep: (() => void) | null = null;

  async function followOnce(device: Device): Promise<string | null> {
    const link = await openDeviceLink(device, {
      appKey: options.appKey(),
      password: device.link.kind === 'serial' ? await options.serialPassword(device) : undefined,
      timeoutMs: options.connectTimeoutMs ?? 10_000,
    });
    try {
      if (isStopped()) return null;
      const session = await openAgentSession(link, agentRpcCommand(device));
      try {
        if (isStopped()) return null;
        // Silence for three intervals means the agent or the link is gone, even if no error says so.
        const stream = session.client.stream('health.watch', { interval_ms: intervalMs }, { window: 4, idleTimeoutMs: Math.max(3 * intervalMs, 3000) });
        cancelCurrent = () => {
          stream.cancel();
        };
        options.onLink('up', null);
        for await (const sample of stream) {
          if (isStopped()) break;
          backoff = firstBackoff;
          options.onSample(sample);
        }
        const result = await stream.result;
        return result.ok ? (isStopped() ? null : 'The agent ended the health stream.') : result.error.message;
      } finally {
        cancelCurrent = null;
        await session.close();
      }
    } finally {
      await link.close();
    }
  }

  async function run(): Promise<void> {
    let lastError: string | null = null;
    while (!isStopped()) {
      const device = options.device();
      if (device === null) return;
      options.onLink('connecting', lastError);
      try {
        lastError = await followOnce(device);
      } catch (error) {
        lastError = describe(error);
      }
      if (isStopped()) return;
      options.onLink('down', lastError);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, backoff);
        wakeSleep = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      wakeSleep = null;
      backoff = Math.min(backoff * 2, maxBackoff);
    }
  }

  const running = run();
  return {
    async stop() {
      control.stopped = true;
      cancelCurrent?.();
      wakeSleep?.();
      await running;
    },
  };
}
