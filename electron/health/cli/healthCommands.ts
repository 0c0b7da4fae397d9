/**
 * `fieldkit health`: the fleet at a glance (one table, once), or one device live — a
 * terminal view redrawn each second (temperature, throttling in words, CPU, memory,
 * disks, backlog, versions, the agent service, alerts with what to do) until Ctrl-C;
 * `--json` streams one view per sample (NDJSON) for scripts, and one a second while no
 * samples come (stale, unreachable). `fieldkit settings health` shows or changes the
 * alert thresholds.
 */
import { InvalidArgumentError, type Command } from 'commander';
import type { Device } from '../../../shared/devices.ts';
import type { DeviceHealthView, HealthThresholds, HealthThresholdsPatch } from '../../../shared/fleetHealth.ts';
import { formatBytes, formatDuration } from '../../../shared/format.ts';
import type { HealthEvent, HealthMinute } from '../../../shared/health.ts';
import { describeService } from '../../../shared/agentServiceAlerts.ts';
import { decodeThrottled, describeThrottling } from '../../../shared/throttling.ts';
import { resolveDevice } from '../../devices/index.ts';
import type { CliContext } from '../../kernel/cli/cliContext.ts';
import { healthService } from '../healthServiceKey.ts';
import { formatTable } from '../../kernel/cli/formatTable.ts';

/** The lease the CLI renews while it shows a device (renewed at a third of it). */
const LEASE_SECONDS = 15;
/** With samples due each second, none for this long means `--json` writes the view by itself. */
const SILENT_AFTER_MS = 1500;
/** How long `fieldkit health` (the fleet table) waits for devices to answer before printing. */
const FLEET_WAIT_MS = 8000;

function clock(ms: number): string {
  return new Date(ms).toLocaleTimeString('en-GB', { hour12: false });
}

/** "under-voltage now, throttled since boot", or "none", or "unknown" (no vcgencmd). */
export function throttlingWords(view: DeviceHealthView): string {
  const t = view.sample?.throttling;
  if (t === undefined) return '—';
  if (t === null) return 'unknown';
  const words = describeThrottling(decodeThrottled(t.raw));
  return words.length === 0 ? 'none' : words.join(', ');
}

function usedPercent(total: number, free: number): number {
  return total > 0 ? Math.round(((total - free) / total) * 100) : 0;
}

function worstDisk(view: DeviceHealthView): string {
  const disks = view.sample?.disks ?? [];
  let worst: { path: string; pct: number } | null = null;
  for (const d of disks) {
    const pct = usedPercent(d.total_bytes, d.free_bytes);
    if (worst === null || pct > worst.pct) worst = { path: d.path, pct };
  }
  return worst === null ? '—' : `${String(worst.pct)}% ${worst.path}`;
}

function ago(ms: number | null, nowMs: number): string {
  if (ms === null) return 'never';
  const s = (nowMs - ms) / 1000;
  return s < 60 ? `${s.toFixed(1)} s ago` : `${formatDuration(s)} ago`;
}

/** The fleet as a table, worst first (the order health.fleet gives). */
export function renderFleetTable(views: readonly DeviceHealthView[], nowMs: number): string {
  if (views.length === 0) return 'No devices yet. Add one with `fieldkit devices add --ssh pi@10.0.0.7` (or run `fieldkit serve --demo`).';
  return formatTable(views, [
    { header: 'DEVICE', value: (v) => v.deviceName },
    { header: 'STATUS', value: (v) => v.status.toUpperCase() },
    { header: 'TEMP', value: (v) => (v.sample?.temp_c == null ? '—' : `${v.sample.temp_c.toFixed(1)} °C`), align: 'right' },
    { header: 'CPU', value: (v) => (v.sample?.cpu_pct == null ? '—' : `${String(Math.round(v.sample.cpu_pct))}%`), align: 'right' },
    { header: 'DISK', value: worstDisk, align: 'right' },
    { header: 'BACKLOG', value: (v) => (v.sample ? String(v.sample.journal.backlog_records) : '—'), align: 'right' },
    { header: 'THROTTLING', value: throttlingWords },
    { header: 'AGENT', value: (v) => v.sample?.agent_version ?? '—' },
    { header: 'MODEL', value: (v) => v.sample?.model_version ?? '—' },
    { header: 'SEEN', value: (v) => ago(v.lastSampleMs, nowMs) },
    { header: 'ALERTS', value: (v) => (v.alerts.length > 0 ? v.alerts.map((a) => a.title).join('; ') : (v.linkError ?? '')) },
  ]);
}

/** One device, as the live view draws it each second. */
export function renderDeviceView(view: DeviceHealthView, nowMs: number): string {
  const s = view.sample;
  const lines = [`${view.deviceName} (${view.site || 'no site'}) — ${view.status.toUpperCase()}   last sample ${ago(view.lastSampleMs, nowMs)}`];
  if (view.linkError !== null) lines.push(`link: ${view.linkError}`);
  if (s === null) {
    lines.push(view.status === 'unreachable' ? 'No sample yet: the device does not answer (retrying).' : 'Connecting…');
  } else {
    const row = (label: string, text: string) => `${label.padEnd(12)} ${text}`;
    lines.push(
      row('service', describeService(s)),
      row('versions', `agent ${s.agent_version}, model ${s.model_version ?? '—'}, up ${formatDuration(s.uptime_s)}`),
      row('temperature', s.temp_c === null ? 'unknown' : `${s.temp_c.toFixed(1)} °C`),
      row('throttling', throttlingWords(view) + (s.volt_alarm === true ? ' (PMIC under-voltage alarm)' : '')),
      row('cpu', `${s.cpu_pct === null ? '—' : `${s.cpu_pct.toFixed(0)}%`}, load ${s.load.map((l) => l.toFixed(2)).join(' ')}`),
      row('memory', `${formatBytes(s.mem_available_bytes)} free of ${formatBytes(s.mem_total_bytes)}`),
      ...s.disks.map((d) => row(`disk ${d.path}`, `${formatBytes(d.free_bytes)} free of ${formatBytes(d.total_bytes)} (${String(usedPercent(d.total_bytes, d.free_bytes))}% used)`)),
      row('journal', `${String(s.journal.records)} records, backlog ${String(s.journal.backlog_records)}, ${s.journal.ingest_per_s.toFixed(1)} events/s`),
      row('uplink', `${s.uplink.state}${s.uplink.last_error ? ` (${s.uplink.last_error})` : ''}`),
      row('inference', s.inference === null ? '—' : `p50 ${s.inference.p50_ms.toFixed(0)} ms, p95 ${s.inference.p95_ms.toFixed(0)} ms (${String(s.inference.count)})`),
    );
    if (s.emmc) lines.push(row('eMMC', `pre-EOL ${String(s.emmc.pre_eol_info ?? '?')}, life ${String(s.emmc.life_time_a ?? '?')}/${String(s.emmc.life_time_b ?? '?')}`));
    if (s.nvme) lines.push(row('NVMe', `${String(s.nvme.percentage_used)}% used, critical_warning ${String(s.nvme.critical_warning)}`));
  }
  if (view.alerts.length === 0) {
    if (s !== null) lines.push('', 'No alerts.');
  } else {
    lines.push('', 'ALERTS');
    for (const a of view.alerts) {
      lines.push(`  ${a.severity.toUpperCase().padEnd(8)}  ${a.title} (since ${clock(a.sinceMs)})`, `            ${a.explanation}`, `            → ${a.action}`);
    }
  }
  return lines.join('\n');
}

/** Pulled history as a short timeline: the events, and the hottest minute. */
export function renderHistory(name: string, history: { minutes: HealthMinute[]; events: HealthEvent[]; pulledAtMs: number | null }): string {
  if (history.pulledAtMs === null && history.minutes.length === 0) return `No health history of ${name} on this laptop yet: pull the device (fieldkit pull ${name}).`;
  const lines = [`${name}: ${String(history.minutes.length)} minutes of history${history.pulledAtMs === null ? '' : `, pulled ${new Date(history.pulledAtMs).toISOString()}`}`];
  const first = history.minutes[0];
  const last = history.minutes.at(-1);
  if (first && last) lines.push(`from ${new Date(first.minute_ms).toISOString()} to ${new Date(last.minute_ms).toISOString()}`);
  let hottest: HealthMinute | null = null;
  for (const m of history.minutes) if (m.temp_c_max !== null && (hottest === null || (hottest.temp_c_max ?? -Infinity) < m.temp_c_max)) hottest = m;
  if (hottest?.temp_c_max != null) lines.push(`hottest: ${hottest.temp_c_max.toFixed(1)} °C at ${new Date(hottest.minute_ms).toISOString()}`);
  lines.push(history.events.length === 0 ? 'No notable events.' : 'Events:');
  for (const e of history.events) lines.push(`  ${new Date(e.at_ms).toISOString()}  ${e.kind.replaceAll('_', ' ')}: ${e.detail}`);
  return lines.join('\n');
}

function seconds(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a number of seconds above 0.');
  return n;
}

function number(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n)) throw new InvalidArgumentError('expected a number.');
  return n;
}

/** Resolves after `ms`, or at once on Ctrl-C / SIGTERM; says which. */
function waitOrInterrupt(ms: number | null): Promise<'time' | 'interrupted'> {
  return new Promise((resolve) => {
    const timer = ms === null ? null : setTimeout(() => { finish('time'); }, ms);
    const onSignal = () => { finish('interrupted'); };
    function finish(why: 'time' | 'interrupted'): void {
      if (timer) clearTimeout(timer);
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      resolve(why);
    }
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}

type HealthOptions = { history?: boolean; for?: number };

export function addHealthCommands(program: Command, ctx: CliContext): void {
  program
    .command('health [device]')
    .description('the fleet\'s health once (a table), or one device live until Ctrl-C (--json: one view per sample, NDJSON, and one a second while it is silent)')
    .option('--history', 'the health history pulled with the journal (minutes and events) instead of live samples')
    .option('--for <seconds>', 'stop the live view after this long', seconds)
    .action(async (wanted: string | undefined, opts: HealthOptions) => {
      if (wanted === undefined) {
        await showFleet(ctx);
        return;
      }
      const { devices } = await ctx.call('devices.list', {});
      const device = resolveDevice(devices, wanted);
      if (opts.history === true) {
        const history = await ctx.call('health.history', { deviceId: device.id });
        ctx.print(history, () => renderHistory(device.name, history));
        return;
      }
      await followDevice(ctx, device, opts.for === undefined ? null : opts.for * 1000);
    });

  const settings = program.commands.find((c) => c.name() === 'settings') ?? program.command('settings').description('fieldkit settings');
  settings
    .command('health')
    .description('show or change the health alert thresholds')
    .option('--temp-warning <celsius>', 'warn at this SoC temperature (default 80)', number)
    .option('--temp-critical <celsius>', 'critical at this SoC temperature (default 85)', number)
    .option('--disk-used <percent>', 'alert when a disk is this full (default 90)', number)
    .option('--emmc-pre-eol <level>', 'alert at this eMMC pre_eol_info (1-3, default 2)', number)
    .option('--nvme-used <percent>', 'alert at this NVMe percentage_used (default 80)', number)
    .option('--backlog-minutes <minutes>', 'alert when the journal backlog grows this long (default 5)', number)
    .option('--stale-seconds <seconds>', 'stale after this long without a sample (default 10)', number)
    .option('--reset', 'back to the defaults (before any other option given)')
    .action(async (opts: Record<string, number | boolean | undefined>) => {
      const map: [string, keyof HealthThresholds][] = [
        ['tempWarning', 'tempWarningC'],
        ['tempCritical', 'tempCriticalC'],
        ['diskUsed', 'diskUsedPercent'],
        ['emmcPreEol', 'emmcPreEol'],
        ['nvmeUsed', 'nvmePercentageUsed'],
        ['backlogMinutes', 'backlogGrowingMinutes'],
        ['staleSeconds', 'staleSeconds'],
      ];
      const patch: HealthThresholdsPatch = {};
      for (const [option, key] of map) {
        const value = opts[option];
        if (typeof value === 'number') patch[key] = value;
      }
      if (opts.reset === true) patch.reset = true;
      const { thresholds } =
        Object.keys(patch).length > 0 ? await ctx.call('settings.health.set', patch) : await ctx.call('settings.health.get', {});
      ctx.print({ thresholds }, () =>
        [
          `${Object.keys(patch).length > 0 ? 'Saved. ' : ''}Health alert thresholds:`,
          `  temperature  warning ${String(thresholds.tempWarningC)} °C, critical ${String(thresholds.tempCriticalC)} °C`,
          `  disk         ${String(thresholds.diskUsedPercent)}% used`,
          `  eMMC         pre_eol_info ≥ ${String(thresholds.emmcPreEol)}`,
          `  NVMe         percentage_used ≥ ${String(thresholds.nvmePercentageUsed)}%`,
          `  backlog      growing for ${String(thresholds.backlogGrowingMinutes)} min`,
          `  stale        after ${String(thresholds.staleSeconds)} s without a sample`,
        ].join('\n'),
      );
    });
}

/** Watches every device until each has answered (or FLEET_WAIT_MS passed), then prints the table once. */
async function showFleet(ctx: CliContext): Promise<void> {
  const services = await ctx.open();
  await ctx.call('health.watch', { leaseSeconds: LEASE_SECONDS });
  const settled = () => services.use(healthService).fleet().every((v) => v.sample !== null || v.status === 'unreachable');
  const until = Date.now() + FLEET_WAIT_MS;
  while (!settled() && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 100));
  const { views } = await ctx.call('health.fleet', {});
  ctx.print({ views }, () => renderFleetTable(views, Date.now()));
}

async function followDevice(ctx: CliContext, device: Device, forMs: number | null): Promise<void> {
  const services = await ctx.open();
  const json = ctx.json();
  const interactive = ctx.io.interactive && !json;
  const renew = () => ctx.call('health.watch', { deviceIds: [device.id], leaseSeconds: LEASE_SECONDS });
  await renew();
  const renewal = setInterval(() => {
    void renew().catch(() => undefined);
  }, (LEASE_SECONDS * 1000) / 3);
  let latest: DeviceHealthView = services.use(healthService).device(device.id).view;
  let lastLineMs = Date.now();
  const line = (view: DeviceHealthView): void => {
    lastLineMs = Date.now();
    ctx.io.stdout(`${JSON.stringify(view)}\n`);
  };
  const unsubscribe = services.events.subscribe((name, payload) => {
    if (name !== 'health.changed') return;
    const event = payload as { views: DeviceHealthView[]; samples: { deviceId: string }[] };
    const view = event.views.find((v) => v.deviceId === device.id);
    if (view) latest = view;
    // One line per sample for scripts: the view as it stood when the sample arrived.
    if (json && view && event.samples.some((s) => s.deviceId === device.id)) line(view);
  });
  // No sample, no line would leave a script watching a dead device in silence: while
  // samples do not come, a line each second says so (stale, unreachable, connecting).
  const silentLines = json
    ? setInterval(() => {
        const view = services.use(healthService).device(device.id).view;
        const sampleFresh = view.lastSampleMs !== null && Date.now() - view.lastSampleMs < SILENT_AFTER_MS;
        if (!sampleFresh && Date.now() - lastLineMs >= 950) line(view);
      }, 1000)
    : null;
  const draw = () => {
    const text = renderDeviceView(latest, Date.now());
    // A terminal gets the view redrawn in place; a pipe gets one block per second.
    ctx.io.stdout(interactive ? `\x1b[H\x1b[2J${text}\n\n(Ctrl-C to stop)\n` : `${text}\n\n`);
  };
  const redraw = json ? null : setInterval(draw, 1000);
  if (!json) draw();
  try {
    await waitOrInterrupt(forMs);
  } finally {
    clearInterval(renewal);
    if (redraw) clearInterval(redraw);
    if (silentLines) clearInterval(silentLines);
    unsubscribe();
  }
}
