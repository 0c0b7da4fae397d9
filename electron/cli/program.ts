/**
 * `fieldkit <command>`: the same services as the app, for scripts and terminals. Every
 * command takes --json; requests go through the same dispatcher (and so the same
 * validation) as the Electron and web carriers.
 */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import type { AppInfo, MethodName, RequestOf, ResponseOf } from '../../shared/api.ts';
import { isFieldkitError, type AppError } from '../../shared/errors.ts';
import { formatDuration } from '../../shared/format.ts';
import { JobStateSchema, type JobRecord } from '../../shared/jobs.ts';
import { dispatch } from '../kernel/api/dispatch.ts';
import { createAppServices, type AppServices, type AppServicesOptions } from '../app/appServices.ts';
import { appVersion, defaultDataDir, rendererDir } from '../app/appPaths.ts';
import { domains } from '../app/domains.ts';
import { startWebHost } from '../kernel/host/webHost.ts';
import { contractNumber, UsageError, usageErrorFromContract } from '../kernel/cli/cliArguments.ts';
import type { CliContext } from '../kernel/cli/cliContext.ts';
import { exitCodes, type CliIo } from '../kernel/cli/cliIo.ts';
import { formatTable } from '../kernel/cli/formatTable.ts';
import { describeJob } from '../kernel/cli/jobReport.ts';

/**
 * The command that carries each API method: the program's own, and each domain's (a domain
 * missing one for a method it handles does not compile; cli.test.ts runs each with --help).
 */
export const cliCommandFor = composeCliCommandFor();

function composeCliCommandFor(): Readonly<Record<MethodName, string>> {
  const all: Partial<Record<MethodName, string>> = { 'app.info': 'info', 'jobs.list': 'jobs list', 'jobs.get': 'jobs show', 'jobs.cancel': 'jobs cancel' };
  for (const domain of domains) Object.assign(all, domain.cliCommandFor);
  // Complete: the program's own methods above, and every domain names one for each method it handles (compile-checked).
  return all as Record<MethodName, string>;
}

type GlobalOptions = { json?: boolean; dataDir?: string };

class CallFailed extends Error {
  readonly error: AppError;
  constructor(error: AppError) {
    super(error.message);
    this.error = error;
  }
}

/** What the process running the CLI sets beyond the command line (tests: a virtual Pi's slot platform). */
export type CliOptions = { services?: Omit<AppServicesOptions, 'dataDir' | 'version' | 'watchDrives' | 'demo'> };

/** Runs the CLI with `argv` (without node and script); resolves with the exit code. */
export async function runCli(argv: readonly string[], io: CliIo, options: CliOptions = {}): Promise<number> {
  // A holder, not a `let`: the services are opened lazily inside command actions.
  const opened: { services: AppServices | null } = { services: null };
  let exitCode: number = exitCodes.ok;
  const program = new Command('fieldkit');

  const globals = (): GlobalOptions => program.opts<GlobalOptions>();
  async function open(watchDrives = false, demo = false): Promise<AppServices> {
    opened.services ??= await createAppServices({ ...options.services, dataDir: globals().dataDir ?? defaultDataDir(), version: appVersion(), watchDrives, demo });
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
  addInfoCommand(program, context);
  addJobsCommands(program, context);
  addServeCommand(program, context, (demo) => open(true, demo));
  for (const domain of domains) for (const addCommands of domain.cliCommands) addCommands(program, context);

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

/** `fieldkit info`. */
function addInfoCommand(program: Command, ctx: CliContext): void {
  program
    .command('info')
    .description('show version, platform and data folder')
    .action(async () => {
      const info = await ctx.call('app.info', {});
      const { demo: _demo, ...plain } = info;
      ctx.print(info, () => formatTable(Object.entries(plain), [{ header: 'FIELD', value: ([k]) => k }, { header: 'VALUE', value: ([, v]) => v }]));
    });
}

/** `fieldkit jobs …`: the job history every domain's jobs land in. */
function addJobsCommands(program: Command, ctx: CliContext): void {
  const jobs = program.command('jobs').description('job history, details and cancellation');
  jobs
    .command('list', { isDefault: true })
    .description('list jobs, newest first (history survives restarts)')
    .addOption(new Option('--limit <n>', 'how many (at most 500)').argParser(contractNumber('jobs.list', 'limit')))
    .addOption(new Option('--state <state>', 'only jobs in this state').choices(JobStateSchema.options))
    .action(async (opts: { limit?: number; state?: JobRecord['state'] }) => {
      const { jobs: list } = await ctx.call('jobs.list', { ...(opts.limit ? { limit: opts.limit } : {}), ...(opts.state ? { state: opts.state } : {}) });
      ctx.print({ jobs: list }, () => (list.length === 0 ? 'No jobs yet.' : formatTable(list, jobColumns)));
    });
  jobs
    .command('show <jobId>')
    .description('one job: progress, result or error, last log lines')
    .action(async (jobId: string) => {
      const { job } = await ctx.call('jobs.get', { jobId });
      ctx.print({ job }, () => describeJob(job));
    });
  jobs
    .command('cancel <jobId>')
    .description('cancel a running job and wait until it has stopped')
    .action(async (jobId: string) => {
      const { job } = await ctx.call('jobs.cancel', { jobId });
      ctx.print({ job }, () => describeJob(job));
    });
}

/**
 * `fieldkit serve`: the UI over the web host until Ctrl-C. `openServing` opens the services
 * as the app does (watching drives, with the demo site on --demo), not as a one-shot command.
 */
function addServeCommand(program: Command, ctx: CliContext, openServing: (demo: boolean) => Promise<AppServices>): void {
  program
    .command('serve')
    .description('serve the fieldkit UI to a browser on this computer (127.0.0.1 only, with an access token)')
    .addOption(new Option('--port <port>', 'port to listen on (default: a free one)').argParser(portNumber))
    .option('--demo', 'also run the demo site: three agents on this computer with synthetic data')
    .action(async (opts: { port?: number; demo?: boolean }) => {
      const s = await openServing(opts.demo === true);
      const host = await startWebHost({ handlers: s.handlers, events: s.events, staticDir: rendererDir(), ...(opts.port ? { port: opts.port } : {}) });
      if (ctx.json()) ctx.io.stdout(JSON.stringify({ url: host.url, port: host.port, dataDir: s.info.dataDir }) + '\n');
      else ctx.io.stdout(`fieldkit is serving its UI at\n\n  ${host.url}\n\nOpen that URL in a browser on this computer (it carries the access token). Ctrl-C stops.\n${demoLine(s.info)}`);
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
