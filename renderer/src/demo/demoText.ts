/**
 * What the screens say about the demo site (app.info's `demo`), kept as text so it can be
 * tested: whether Courier's Forward will work without a setting, and why Deploy cannot
 * reach the demo devices — plainly, with what to do instead.
 */
import type { AppInfo } from '../../../shared/api.ts';
import type { Device } from '../../../shared/devices.ts';

export type DemoNoticeText = { tone: 'ok' | 'warn'; title: string; body: string };

/** Courier's line about the demo's ClickHouse; null when the demo is not running. */
export function demoClickHouseText(info: Pick<AppInfo, 'demo'> | null): DemoNoticeText | null {
  const clickhouse = info?.demo?.clickhouse;
  if (clickhouse === undefined) return null;
  if ('url' in clickhouse) {
    return clickhouse.settings === 'prefilled'
      ? { tone: 'ok', title: 'The demo has its own ClickHouse', body: `It runs at ${clickhouse.url} and is set in Settings → ClickHouse: Pull all, Forward all, then Reconcile.` }
      : { tone: 'ok', title: 'The demo has its own ClickHouse', body: `It runs at ${clickhouse.url}, but Settings → ClickHouse keep the server you set; Forward all sends there.` };
  }
  return { tone: 'warn', title: 'No ClickHouse for the demo to forward to', body: `${capitalise(clickhouse.unavailable)}. ${clickhouse.hint}` };
}

/**
 * Deploy's explanation when the registered devices are all demo (local) devices, or null when
 * some device can be deployed to (each local one still says why it cannot, beside its box).
 */
export function demoDeployText(devices: readonly Pick<Device, 'name' | 'link'>[]): DemoNoticeText | null {
  const local = devices.filter((device) => device.link.kind === 'local');
  if (local.length === 0 || local.length < devices.length) return null;
  const names = local.map((device) => device.name);
  const listed = names.length === 1 ? (names[0] ?? '') : `${names.slice(0, -1).join(', ')} and ${names.at(-1) ?? ''}`;
  return {
    tone: 'warn',
    title: 'Deploy cannot be tried on the demo devices',
    body:
      `${listed} ${names.length === 1 ? 'is an agent' : 'are agents'} running as plain processes on this computer. ` +
      'A deploy installs the agent on a Pi as a system service — a service user, /opt/fieldkit-agent, a systemd unit, all with sudo — then checks its health and rolls back if it fails; fieldkit will not do that to this laptop. ' +
      'To try Deploy: build a signed agent bundle (npm run bundle:agent writes dist/agent/fieldkit-agent-<version>-linux-arm64.tar), add a Pi — or any Debian machine with systemd and passwordless sudo — on Devices (Add device → SSH), then come back, read the bundle and pick it.',
  };
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
