/**
 * `fieldkit deploy`, `fieldkit rollout …` and `fieldkit bundle inspect`: deploy a signed
 * bundle to a few devices, or roll it out to many in batches with a canary first; follow
 * it with progress; read every device's outcome and transcript afterwards.
 */
import { InvalidArgumentError, Option, type Command } from 'commander';
import type { BundleSummary, DeviceDeployOutcome, Rollout } from '../../../shared/deploy.ts';
import { appError, FieldkitError } from '../../../shared/errors.ts';
import { formatBytes, formatDuration } from '../../../shared/format.ts';
import { parseBatchSizes, formatBatchSizes } from '../../../shared/rolloutBatches.ts';
import type { BatchSize } from '../../../shared/deploy.ts';
import { UsageError } from '../../kernel/cli/cliArguments.ts';
import { resolveDeviceIds } from '../../devices/index.ts';
import type { CliContext } from '../../kernel/cli/cliContext.ts';
import { exitCodes } from '../../kernel/cli/cliIo.ts';
import { formatTable } from '../../kernel/cli/formatTable.ts';
import { followJob } from '../../kernel/cli/jobProgress.ts';

const outcomeColumns = [
  { header: 'BATCH', value: (d: DeviceDeployOutcome) => String(d.batch + 1), align: 'right' as const },
  { header: 'DEVICE', value: (d: DeviceDeployOutcome) => d.deviceName },
  { header: 'STATUS', value: (d: DeviceDeployOutcome) => d.status },
  { header: 'FROM', value: (d: DeviceDeployOutcome) => d.fromVersion ?? '—' },
  { header: 'TO', value: (d: DeviceDeployOutcome) => d.toVersion },
  { header: 'SENT', value: (d: DeviceDeployOutcome) => (d.status === 'pending' || d.status === 'skipped' ? '' : formatBytes(d.bytesSent)), align: 'right' as const },
  { header: 'TOOK', value: (d: DeviceDeployOutcome) => (d.startedAt === null || d.endedAt === null ? '' : formatDuration((d.endedAt - d.startedAt) / 1000)), align: 'right' as const },
  { header: 'WHY', value: (d: DeviceDeployOutcome) => why(d) },
];

const rolloutColumns = [
  { header: 'ID', value: (r: Rollout) => r.id },
  { header: 'STATE', value: (r: Rollout) => r.state },
  { header: 'VERSION', value: (r: Rollout) => r.version },
  { header: 'DEVICES', value: (r: Rollout) => tally(r), align: 'right' as const },
  { header: 'BATCHES', value: (r: Rollout) => formatBatchSizes(r.batches) },
  { header: 'STARTED', value: (r: Rollout) => new Date(r.createdAt).toISOString().replace('T', ' ').slice(0, 19) },
  { header: 'STOPPED BECAUSE', value: (r: Rollout) => r.stopReason ?? '' },
];

/** Which gate failed; the error's words follow the table once, with what to do. */
function why(d: DeviceDeployOutcome): string {
  if (d.error === null) return '';
  return d.gateFailed === null ? 'see below' : `gate ${d.gateFailed} failed (see below)`;
}

function tally(r: Rollout): string {
  const ok = r.devices.filter((d) => d.status === 'updated' || d.status === 'unchanged').length;
  return `${ok} of ${r.devices.length} done`;
}

/** Exit code for a finished rollout: 0 only when it completed and every device runs the version. */
function rolloutExitCode(r: Rollout): number {
  if (r.state === 'completed' && r.devices.every((d) => d.status === 'updated' || d.status === 'unchanged')) return exitCodes.ok;
  return exitCodes.failed;
}

export function describeRollout(r: Rollout): string {
  const lines = [
    `${r.id}  ${r.bundleKind} ${r.version}  ${r.state}  batches ${formatBatchSizes(r.batches)}, stop above ${r.maxFailurePercent}% failed per batch`,
    `bundle: ${r.bundlePath}`,
  ];
  if (r.stopReason !== null) lines.push(r.stopReason);
  lines.push('', formatTable(r.devices, outcomeColumns));
  for (const d of r.devices) {
    if (d.error === null) continue;
    lines.push('', `${d.deviceName}: ${d.status}${d.gateFailed === null ? '' : ` (gate ${d.gateFailed} failed)`}`, `  ${d.error.message}`, `  what to do: ${d.error.hint}`);
    for (const line of d.unitLog.slice(-10)) lines.push(`  | ${line}`);
  }
  const resumable = r.state === 'stopped' || (r.state === 'completed' && rolloutExitCode(r) !== exitCodes.ok);
  if (resumable) lines.push('', `Resume with: fieldkit rollout resume ${r.id}   Transcript of a device: fieldkit rollout show ${r.id} --transcript <device>`);
  return lines.join('\n');
}

export function describeTranscript(d: DeviceDeployOutcome): string {
  if (d.transcript.length === 0) return `${d.deviceName}: no commands recorded (${d.status}).`;
  const lines = [`${d.deviceName}: ${d.status}, ${d.transcript.length} step${d.transcript.length === 1 ? '' : 's'}`];
  for (const entry of d.transcript) {
    const exit = entry.exitCode === null ? '' : ` → exit ${entry.exitCode}`;
    lines.push('', `[${new Date(entry.at).toISOString().slice(11, 19)}] ${entry.step}: ${entry.command}${exit} (${formatDuration(entry.durationMs / 1000)})`);
    const output = entry.output.trimEnd();
    if (output !== '') for (const line of output.split('\n')) lines.push(`    ${line}`);
  }
  return lines.join('\n');
}

function describeBundle(b: BundleSummary): string {
  if (b.product === '') {
    return [`${b.path}: not a readable signed bundle; it cannot be deployed.`, ...b.problems.flatMap((p) => [`  ${p.message}`, `  what to do: ${p.hint}`])].join('\n');
  }
  const signer = b.signature.signer ?? b.signature.keyId ?? 'unknown key';
  const lines = [
    `${b.product} ${b.version} (${b.kind}${b.arch === null ? '' : `, ${b.arch}`}), ${b.files.length} files, ${formatBytes(b.totalBytes)}`,
    `signature: ${b.signature.status}, ${signer}`,
  ];
  lines.push(b.problems.length === 0 ? 'can be deployed: yes' : 'can be deployed: no');
  for (const p of b.problems) lines.push(`  ${p.message}`, `  what to do: ${p.hint}`);
  lines.push('', formatTable(b.files, [
    { header: 'FILE', value: (f) => f.path },
    { header: 'SIZE', value: (f) => formatBytes(f.size), align: 'right' },
    { header: 'SHA-256', value: (f) => f.sha256.slice(0, 16) },
  ]));
  return lines.join('\n');
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function batchList(value: string): BatchSize[] {
  const parsed = parseBatchSizes(value);
  if (!parsed.ok) throw new InvalidArgumentError(`${parsed.error.message} ${parsed.error.hint}`);
  return parsed.value;
}

function percent(value: string): number {
  const n = Number(value.replace(/%$/, ''));
  if (!Number.isFinite(n) || n < 0 || n > 100) throw new InvalidArgumentError('a percentage from 0 to 100.');
  return n;
}

function seconds(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 1 || n > 600) throw new InvalidArgumentError('whole seconds from 1 to 600.');
  return n;
}

export function addDeployCommands(program: Command, ctx: CliContext): void {
  /** Follows the rollout job, then prints the per-device table; sets the exit code. */
  async function follow(rolloutId: string, jobId: string): Promise<void> {
    const services = await ctx.open();
    const record = await followJob(jobId, { events: services.events, jobs: services.jobs, io: ctx.io, json: ctx.json() });
    const { rollout } = await ctx.call('deploy.get', { rolloutId });
    if (ctx.json()) ctx.io.stdout(JSON.stringify({ rollout }) + '\n');
    else ctx.io.stdout(describeRollout(rollout) + '\n');
    ctx.setExitCode(record.state === 'cancelled' ? exitCodes.cancelled : rolloutExitCode(rollout));
  }

  type StartOptions = { stableSeconds?: number; maxFailures?: number; batches?: BatchSize[]; shuffle?: boolean };
  async function start(bundlePath: string, deviceIds: string[], opts: StartOptions): Promise<void> {
    const { rolloutId, jobId } = await ctx.call('deploy.start', {
      bundlePath,
      deviceIds,
      ...(opts.batches ? { batches: opts.batches } : {}),
      ...(opts.maxFailures === undefined ? {} : { maxFailurePercent: opts.maxFailures }),
      order: opts.shuffle === true ? 'shuffle' : 'given',
      ...(opts.stableSeconds === undefined ? {} : { stableSeconds: opts.stableSeconds }),
    });
    if (!ctx.json()) ctx.io.stderr(`Rollout ${rolloutId} started (job ${jobId}). Ctrl-C stops it after the devices in flight; resume later with fieldkit rollout resume ${rolloutId}.\n`);
    await follow(rolloutId, jobId);
  }

  const stableOption = () => new Option('--stable-seconds <n>', 'how long the service must run without restarting to count as healthy (default 10)').argParser(seconds);

  program
    .command('deploy <bundle>')
    .description('deploy a signed agent or model bundle to the devices named (all at once, each health-gated and rolled back on failure; a job)')
    .option('--to <device>', 'a device name or id (repeat for more)', collect, [])
    .addOption(stableOption())
    .action(async (bundle: string, opts: { to: string[]; stableSeconds?: number }) => {
      if (opts.to.length === 0) throw new FieldkitError(appError('BAD_REQUEST', 'Say which devices: --to <device> (repeat for more).', 'For example: fieldkit deploy fieldkit-agent-1.3.0-linux-arm64.tar --to pi-07 --to pi-08', 'to'));
      const { devices } = await ctx.call('devices.list', {});
      await start(bundle, resolveDeviceIds(devices, opts.to, 'to'), opts);
    });

  program
    .command('bundle')
    .description('signed agent and model bundles')
    .command('inspect <bundle>')
    .description('what a bundle is before it is sent: signer, version, architecture, files, and why it may not be deployed')
    .action(async (bundlePath: string) => {
      const { bundle } = await ctx.call('deploy.inspect', { bundlePath });
      ctx.print({ bundle }, () => describeBundle(bundle));
      if (bundle.problems.length > 0) ctx.setExitCode(exitCodes.failed);
    });

  const rollout = program.command('rollout').description('roll a bundle out to many devices in batches, a canary first; resume, show and list rollouts');
  rollout
    .command('start <bundle>', { isDefault: true })
    .description('roll out a signed bundle in batches (fieldkit rollout BUNDLE --all --batches 1,5,20%); a batch failing too often stops it (a job)')
    .option('--devices <list>', 'device names or ids, comma separated', (v: string) => v.split(',').map((s) => s.trim()).filter((s) => s !== ''))
    .option('--all', 'every registered device')
    .addOption(new Option('--batches <sizes>', 'batch sizes: a count or a percentage of all devices, the last repeating (default: one batch)').argParser(batchList))
    .addOption(new Option('--max-failures <percent>', 'stop when more than this share of a batch fails (default 0: any failure stops)').argParser(percent))
    .option('--shuffle', 'shuffle the devices first (the canary is a random one)')
    .addOption(stableOption())
    .action(async (bundle: string, opts: StartOptions & { devices?: string[]; all?: boolean }) => {
      if ((opts.devices === undefined) === (opts.all !== true)) {
        throw new FieldkitError(appError('BAD_REQUEST', 'Say which devices: --devices a,b,c or --all (one of them).', 'For example: fieldkit rollout fieldkit-agent-1.3.0-linux-arm64.tar --all --batches 1,5,20%', 'devices'));
      }
      const { devices } = await ctx.call('devices.list', {});
      const ids = opts.all === true ? devices.map((d) => d.id) : resolveDeviceIds(devices, opts.devices ?? [], 'devices');
      await start(bundle, ids, opts);
    });
  rollout
    .command('resume <rolloutId>')
    .description('carry on a stopped rollout with its plan: devices not yet updated are deployed again (a job)')
    .action(async (rolloutId: string) => {
      const { jobId } = await ctx.call('deploy.resume', { rolloutId });
      if (!ctx.json()) ctx.io.stderr(`Resuming ${rolloutId} (job ${jobId}).\n`);
      await follow(rolloutId, jobId);
    });
  rollout
    .command('show <rolloutId>')
    .description("one rollout: each device's outcome and rollback reason; --transcript DEVICE for every command it ran")
    .option('--transcript <device>', 'print the transcript of this device (name or id)')
    .action(async (rolloutId: string, opts: { transcript?: string }) => {
      const { rollout: r } = await ctx.call('deploy.get', { rolloutId });
      if (opts.transcript === undefined) {
        ctx.print({ rollout: r }, () => describeRollout(r));
        ctx.setExitCode(rolloutExitCode(r));
        return;
      }
      const wanted = opts.transcript;
      // Like every device argument: the id, or the name of exactly one device of the rollout.
      const named = r.devices.filter((d) => d.deviceName === wanted);
      const device = r.devices.find((d) => d.deviceId === wanted) ?? (named.length === 1 ? named[0] : undefined);
      if (named.length > 1 && device === undefined) {
        throw new UsageError(appError('BAD_REQUEST', `${String(named.length)} devices of rollout ${rolloutId} are named ${wanted}: ${named.map((d) => d.deviceId).join(', ')}.`, 'Name the one you mean by its id.', 'transcript'));
      }
      if (device === undefined) {
        throw new UsageError(appError('NOT_FOUND', `${wanted} is not part of rollout ${rolloutId}.`, `Use one of: ${r.devices.map((d) => d.deviceName).join(', ')}.`, 'transcript'));
      }
      ctx.print({ device }, () => describeTranscript(device));
    });
  rollout
    .command('list')
    .description('rollouts, newest first')
    .action(async () => {
      const { rollouts } = await ctx.call('deploy.list', {});
      ctx.print({ rollouts }, () => (rollouts.length === 0 ? 'No rollouts yet. Start one with `fieldkit rollout <bundle> --all --batches 1,5,20%`.' : formatTable(rollouts, rolloutColumns)));
    });
}
