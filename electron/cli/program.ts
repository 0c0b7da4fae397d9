/**
 * `fieldkit <command>`: the same services as the app, for scripts and terminals. Every
 * command takes --json; requests go through the same dispatcher (and so the same
 * validation) as the Electron and web carriers.
 */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import type { AppInfo, MethodName, RequestOf, ResponseOf } from '../../shared/api.ts';
import type { Drive } from '../../shared/drives.ts';
import { isFieldkitError, type AppError } from '../../shared/errors.ts';
import { formatBytes, formatDuration } from '../../shared/format.ts';
import { JobStateSchema, type JobRecord } from '../../shared/jobs.ts';
import { dispatch } from '../kernel/api/dispatch.ts';
import { createAppServices, type AppServices } from '../app/appServices.ts';
import { appVersion, defaultDataDir, rendererDir } from '../app/appPaths.ts';
import { startWebHost } from '../kernel/host/webHost.ts';
import type { CliContext } from './cliContext.ts';
import { exitCodes, type CliIo } from '../kernel/cli/cliIo.ts';
import { formatTable } from '../kernel/cli/formatTable.ts';
import { followJob, progressText } from '../kernel/cli/jobProgress.ts';
import { contractNumber, UsageError, usageErrorFromContract } from './cliArguments.ts';
import { addSigningCommands } from '../deploy/cli/signingCommands.ts';
import { addImageCommands } from '../flash/cli/imageCommands.ts';
import { addDeviceCommands } from '../devices/cli/deviceCommands.ts';
import { addProvisionCommand } from '../provision/cli/provisionCommand.ts';
import { addCourierCommands } from '../courier/cli/courierCommands.ts';
import { addForwardCommands } from '../courier/cli/forwardCommands.ts';
import { addTrustCommands } from '../flash/cli/trustCommands.ts';
import { addFlashCommands } from '../flash/cli/flashCommands.ts';
import { addImageListCommand } from '../flash/cli/imageListCommand.ts';
import { addDeployCommands } from '../deploy/cli/deployCommands.ts';
import { addSlotCommands } from '../deploy/cli/slotCommands.ts';
import { addHealthCommands } from '../health/cli/healthCommands.ts';

/** The command that carries each API method; the type makes a missing one a compile error. */
export const cliCommandFor = {
  'app.info': 'info',
  'drives.list': 'drives list',
  'drives.readCheck': 'drives check',
  'jobs.list': 'jobs list',
  'jobs.get': 'jobs show',
  'jobs.cancel': 'jobs cancel',
  'devices.list': 'devices list',
  'devices.add': 'devices add',
  'devices.update': 'devices update',
  'devices.remove': 'devices remove',
  'devices.scanHostKey': 'devices scan-key',
  'devices.trustHostKey': 'devices trust-key',
  'devices.forgetHostKey': 'devices forget-key',
  'devices.connect': 'devices connect',
  'devices.discover': 'devices discover',
  'devices.provision': 'provision',
  'courier.pull': 'pull',
  'courier.status': 'courier',
  'courier.forward': 'forward',
  'courier.reconcile': 'reconcile',
  'courier.quarantine.list': 'quarantine list',
  'courier.quarantine.retry': 'quarantine retry',
  'courier.quarantine.discard': 'quarantine discard',
  'settings.clickhouse.get': 'settings clickhouse',
  'settings.clickhouse.set': 'settings clickhouse',
  'settings.clickhouse.test': 'settings clickhouse --test',
  'trust.list': 'trust list',
  'trust.import': 'trust import',
  'trust.revoke': 'trust revoke',
  'settings.flash.get': 'settings flash',
  'settings.flash.set': 'settings flash',
  'flash.browse': 'image list',
  'flash.inspect': 'image inspect',
  'flash.start': 'flash',
  'deploy.inspect': 'bundle inspect',
  'deploy.start': 'rollout',
  'deploy.list': 'rollout list',
  'deploy.get': 'rollout show',
  'deploy.resume': 'rollout resume',
  'slots.update': 'slot-update',
  'health.watch': 'health DEVICE',
  'health.fleet': 'health',
  'health.device': 'health DEVICE',
  'health.history': 'health DEVICE --history',
  'settings.health.get': 'settings health',
  'settings.health.set': 'settings health',
} as const satisfies Record<MethodName, string>;

type GlobalOptions = { json?: boolean; dataDir?: string };

class CallFailed extends Error {
  readonly error: AppError;
  constructor(error: AppError) {
    super(error.message);
    this.error = error;
  }
}

/** Runs the CLI with `argv` (without node and script); resolves with the exit code. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  // A holder, not a `let`: the services are opened lazily inside command actions.
  const opened: { services: AppServices | null } = { services: null };
  let exitCode: number = exitCodes.ok;
  const program = new Command('fieldkit');

  const globals = (): GlobalOptions => program.opts<GlobalOptions>();
  async function open(watchDrives = false, demo = false): Promise<AppServices> {
    opened.services ??= await createAppServices({ dataDir: globals().dataDir ?? defaultDataDir(), version: appVersion(), watchDrives, demo });
    return opened.services;
  }
  async function call<M extends MethodName>(method: M, params: RequestOf<M>): Promise<ResponseOf<M>> {
    // An argument the contract refuses is the command line's fault: say so in its words (exit 2).
    const refused = usageErrorFromContract(method, params);
    if (refused !== null) throw refused;
    const result = await dispatch((await open()).handlers, method, params);
    if (!result.ok) throw new CallFailed(result.error);
    return result.value as ResponseOf<M>;
  }
  function print(value: unknown, human: () => string): void {
    io.stdout((globals().json ? JSON.stringify(value, null, 2) : human()) + '\n');
  }

  program
    .description('fieldkit: flash, deploy, courier and watch Raspberry Pi inference nodes.')
    .version(appVersion(), '-V, --version')
    .option('--json', 'print machine-readable JSON instead of tables')
    .option('--data-dir <path>', 'use this data folder (default: per-user app data, or $FIELDKIT_DATA_DIR)')
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .exitOverride();

  program
    .command('info')
    .description('show version, platform and data folder')
    .action(async () => {
      const info = await call('app.info', {});
      const { demo: _demo, ...plain } = info;
      print(info, () => formatTable(Object.entries(plain), [{ header: 'FIELD', value: ([k]) => k }, { header: 'VALUE', value: ([, v]) => v }]));
    });

  const drives = program.command('drives').description('list drives and check them');
  drives
    .command('list', { isDefault: true })
    .description('list drives and whether each may be flashed')
    .addOption(new Option('--image-size <bytes>', 'refuse drives smaller than this').argParser(positiveInt))
    .action(async (opts: { imageSize?: number }) => {
      const { drives: list } = await call('drives.list', opts.imageSize === undefined ? {} : { imageSizeBytes: opts.imageSize });
      print({ drives: list }, () => (list.length === 0 ? 'No drives found.' : formatTable(list, driveColumns)));
    });
  drives
    .command('check <device>')
    .description('read a whole drive once: real read speed, unreadable regions, SHA-256 (a job; Ctrl-C cancels)')
    .addOption(new Option('--max-bytes <bytes>', 'stop after this many bytes (a quick check)').argParser(positiveInt))
    .action(async (device: string, opts: { maxBytes?: number }) => {
      const s = await open();
      const { jobId } = await call('drives.readCheck', { device, ...(opts.maxBytes ? { maxBytes: opts.maxBytes } : {}) });
      const record = await followJob(jobId, { events: s.events, jobs: s.jobs, io, json: globals().json === true });
      exitCode = reportJob(record, io, globals().json === true);
    });

  const jobs = program.command('jobs').description('job history, details and cancellation');
  jobs
    .command('list', { isDefault: true })
    .description('list jobs, newest first (history survives restarts)')
    .addOption(new Option('--limit <n>', 'how many (at most 500)').argParser(contractNumber('jobs.list', 'limit')))
    .addOption(new Option('--state <state>', 'only jobs in this state').choices(JobStateSchema.options))
    .action(async (opts: { limit?: number; state?: JobRecord['state'] }) => {
      const { jobs: list } = await call('jobs.list', { ...(opts.limit ? { limit: opts.limit } : {}), ...(opts.state ? { state: opts.state } : {}) });
      print({ jobs: list }, () => (list.length === 0 ? 'No jobs yet.' : formatTable(list, jobColumns)));
    });
  jobs
    .command('show <jobId>')
    .description('one job: progress, result or error, last log lines')
    .action(async (jobId: string) => {
      const { job } = await call('jobs.get', { jobId });
      print({ job }, () => describeJob(job));
    });
  jobs
    .command('cancel <jobId>')
    .description('cancel a running job and wait until it has stopped')
    .action(async (jobId: string) => {
      const { job } = await call('jobs.cancel', { jobId });
      print({ job }, () => describeJob(job));
    });

  program
    .command('serve')
    .description('serve the fieldkit UI to a browser on this computer (127.0.0.1 only, with an access token)')
    .addOption(new Option('--port <port>', 'port to listen on (default: a free one)').argParser(portNumber))
    .option('--demo', 'also run the demo site: three agents on this computer with synthetic data')
    .action(async (opts: { port?: number; demo?: boolean }) => {
      const s = await open(true, opts.demo === true);
      const host = await startWebHost({ handlers: s.handlers, events: s.events, staticDir: rendererDir(), ...(opts.port ? { port: opts.port } : {}) });
      if (globals().json) io.stdout(JSON.stringify({ url: host.url, port: host.port, dataDir: s.info.dataDir }) + '\n');
      else io.stdout(`fieldkit is serving its UI at\n\n  ${host.url}\n\nOpen that URL in a browser on this computer (it carries the access token). Ctrl-C stops.\n${demoLine(s.info)}`);
      await new Promise<void>((resolve) => {
        const stop = () => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          resolve();
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
      await host.close();
    });

  addSigningCommands(program, io, () => globals().json === true);
  addImageCommands(
    program,
    io,
    () => globals().json === true,
    async () => (await call('trust.list', {})).keys,
    async (imagePath) => (await call('flash.inspect', { imagePath })).image,
  );
  const context: CliContext = {
    io,
    json: () => globals().json === true,
    call,
    open: () => open(),
    print,
    setExitCode: (code) => {
      exitCode = code;
    },
  };
  addDeviceCommands(program, context);
  addProvisionCommand(program, context);
  addCourierCommands(program, context);
  addForwardCommands(program, context);
  addTrustCommands(program, context);
  addFlashCommands(program, context);
  addImageListCommand(program, context);
  addDeployCommands(program, context);
  addSlotCommands(program, context);
  addHealthCommands(program, context);

  // The command being run, for the usage line after a wrong argument; and that line after commander's own refusals.
  let running: Command = program;
  program.hook('preAction', (_program, action) => {
    running = action;
  });
  for (const command of [program, ...allCommands(program)]) command.showHelpAfterError(usageOf(command));

  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (error) {
    exitCode = exitCodeFor(error, running, io, globals().json === true);
  } finally {
    if (opened.services) await opened.services.close();
  }
  return exitCode;
}

/** Every subcommand, depth first. */
function allCommands(parent: Command): Command[] {
  return parent.commands.flatMap((c) => [c, ...allCommands(c)]);
}

/** "Usage: fieldkit pull [options] <device>" and where to read more. */
function usageOf(command: Command): string {
  const names: string[] = [];
  for (let c: Command | null = command; c !== null; c = c.parent) names.unshift(c.name());
  return `Usage: ${names.join(' ')} ${command.usage()}\n(${names.join(' ')} --help says more)`;
}

function exitCodeFor(error: unknown, running: Command, io: CliIo, json: boolean): number {
  // A wrong argument, whether a command found it or the contract did: once, then the usage.
  if (error instanceof UsageError) {
    const usage = error.appError;
    if (json) io.stdout(JSON.stringify({ ok: false, error: usage }, null, 2) + '\n');
    else io.stderr(`error: ${usage.message}\nwhat to do: ${usage.hint}\n`);
    io.stderr(`\n${usageOf(running)}\n`);
    return exitCodes.usage;
  }
  if (error instanceof CallFailed || isFieldkitError(error)) {
    const appError = error instanceof CallFailed ? error.error : error.appError;
    if (json) io.stdout(JSON.stringify({ ok: false, error: appError }, null, 2) + '\n');
    else io.stderr(`error: ${appError.message}\nwhat to do: ${appError.hint}\n`);
    return exitCodes.failed;
  }
  if (error instanceof CommanderError) {
    // Commander said what was wrong, and the usage after it (showHelpAfterError).
    if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.code === 'commander.help') return exitCodes.ok;
    return exitCodes.usage;
  }
  const message = error instanceof Error ? error.message : String(error);
  io.stderr(`error: ${message}\n`);
  return exitCodes.failed;
}

function reportJob(record: JobRecord, io: CliIo, json: boolean): number {
  if (!json) io.stdout(describeJob(record) + '\n');
  if (record.state === 'done') return exitCodes.ok;
  if (record.state === 'cancelled') return exitCodes.cancelled;
  return exitCodes.failed;
}

function describeJob(job: JobRecord): string {
  const lines = [`${job.id}  ${job.title}`, `state: ${job.state}`];
  if (job.progress) {
    const p = job.progress;
    lines.push(`progress: ${progressText(p)}`);
  }
  if (job.error) lines.push(`error: ${job.error.message}`, `what to do: ${job.error.hint}`);
  if (job.result !== null) lines.push(`result: ${JSON.stringify(job.result, null, 2)}`);
  for (const line of job.log) lines.push(`  ${new Date(line.at).toISOString()} ${line.level}: ${line.message}`);
  return lines.join('\n');
}

const driveColumns = [
  { header: 'DEVICE', value: (d: Drive) => d.device },
  { header: 'SIZE', value: (d: Drive) => (d.sizeBytes === null ? '?' : formatBytes(d.sizeBytes)), align: 'right' as const },
  { header: 'BUS', value: (d: Drive) => d.busType },
  { header: 'DESCRIPTION', value: (d: Drive) => d.description },
  {
    header: 'FLASH',
    value: (d: Drive) =>
      d.flashable ? ['yes.', ...d.warnings.map((w) => w.message)].join(' ') : `no. ${d.refusals.map((r) => r.message).join(' ')}`,
  },
];

const jobColumns = [
  { header: 'ID', value: (j: JobRecord) => j.id },
  { header: 'STATE', value: (j: JobRecord) => j.state },
  { header: 'STARTED', value: (j: JobRecord) => new Date(j.createdAt).toISOString().replace('T', ' ').slice(0, 19) },
  { header: 'TOOK', value: (j: JobRecord) => (j.endedAt === null ? '…' : formatDuration((j.endedAt - j.createdAt) / 1000)), align: 'right' as const },
  { header: 'TITLE', value: (j: JobRecord) => j.title },
];

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n <= 0) throw new InvalidArgumentError('expected a positive whole number.');
  return n;
}

function portNumber(value: string): number {
  const n = positiveInt(value);
  if (n > 65535) throw new InvalidArgumentError('a port is 1 to 65535.');
  return n;
}

/** What the demo set up, so a newcomer knows whether Forward will work without any setting. */
function demoLine(info: AppInfo): string {
  const clickhouse = info.demo?.clickhouse;
  if (clickhouse === undefined) return '';
  if ('url' in clickhouse) {
    return clickhouse.settings === 'prefilled'
      ? `\nDemo site: three agents on this computer, and a ClickHouse of its own at ${clickhouse.url} (set in Settings → ClickHouse).\n`
      : `\nDemo site: three agents on this computer; its ClickHouse runs at ${clickhouse.url}, but Settings keep the ClickHouse you set.\n`;
  }
  return `\nDemo site: three agents on this computer. No ClickHouse for it: ${clickhouse.unavailable}. ${clickhouse.hint}\n`;
}
