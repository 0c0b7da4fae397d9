/**
 * `fieldkit settings clickhouse`: where `fieldkit forward` sends records, tested before it is
 * kept. A password comes from standard input only, never from the command line.
 */
import { InvalidArgumentError, Option, type Command } from 'commander';
import type { ClickHouseSettingsPatch, ClickHouseSettingsView } from '../../../shared/clickhouseSettings.ts';
import { FORWARD_BATCH_ROWS } from '../../../shared/clickhouseSettings.ts';
import type { CliContext } from '../../kernel/cli/cliContext.ts';
import { formatTable } from '../../kernel/cli/formatTable.ts';

export function addClickHouseSettingsCommand(program: Command, ctx: CliContext): void {
  const settings = program.commands.find((c) => c.name() === 'settings') ?? program.command('settings').description('fieldkit settings');
  settings
    .command('clickhouse')
    .description('show or change where `fieldkit forward` sends records; --test connects and reports the server version')
    .option('--url <url>', 'the ClickHouse HTTP(S) interface, such as https://ch.example.com:8443')
    .option('--user <name>', 'ClickHouse user')
    .option('--password-stdin', 'read the password from standard input (kept in a 0600 file, never shown)')
    .option('--clear-password', 'remove the saved password')
    .option('--database <name>', 'database (default: default)')
    .option('--table <name>', 'table for records (default: telemetry); loss records go to <table>_loss')
    .option('--cluster <name>', 'create the tables ON CLUSTER (replicated + Distributed)')
    .option('--no-cluster', 'a single server (no ON CLUSTER)')
    .option('--ca <file>', 'CA bundle (PEM) for a private CA')
    .option('--cert <file>', 'client certificate (PEM) for mutual TLS')
    .option('--key <file>', 'client key (PEM) for mutual TLS')
    .option('--no-tls-files', 'forget the CA, certificate and key files')
    .addOption(new Option('--batch-rows <n>', `rows per insert (${FORWARD_BATCH_ROWS.min}-${FORWARD_BATCH_ROWS.max})`).argParser(batchRows))
    .option('--test', 'connect, ask the version, and say whether deduplication tokens are supported; with other options, tests them without saving')
    .option('--save', 'with --test: save the given options only if the test connects')
    .action(async (opts: SettingsOptions) => {
      const patch = await patchFrom(opts, ctx);
      const changes = Object.keys(patch).length > 0;
      if (opts.test === true) {
        // The given values are tried as they are and saved only on --save after a good test:
        // a mistyped password never replaces the one that works.
        const result = await ctx.call('settings.clickhouse.test', patch);
        const saved = changes && opts.save === true ? (await ctx.call('settings.clickhouse.set', patch)).settings : null;
        const note = !changes ? '' : saved !== null ? 'Saved.' : 'Not saved: run it again with --save (or without --test) to keep these settings.';
        ctx.print(saved === null ? result : { ...result, settings: saved }, () =>
          [
            `Connected to ClickHouse ${result.version} at ${result.url} in ${result.roundTripMs} ms.`,
            result.dedupTokens ? 'It takes insert_deduplication_token (a retried batch is dropped by the server).' : 'It predates insert_deduplication_token (22.2): a retried batch collapses by the table key under FINAL and at merge.',
            result.tablesExist ? 'The tables exist.' : 'The tables do not exist yet; the first forward creates them.',
            ...(note === '' ? [] : [note]),
          ].join('\n'),
        );
        return;
      }
      if (changes) {
        const { settings: saved } = await ctx.call('settings.clickhouse.set', patch);
        ctx.print({ settings: saved }, () => `Saved.\n${describeSettings(saved)}`);
        return;
      }
      const { settings: current } = await ctx.call('settings.clickhouse.get', {});
      ctx.print({ settings: current }, () => (current === null ? 'No ClickHouse server is set. Set one with: fieldkit settings clickhouse --url https://… --user … --password-stdin' : describeSettings(current)));
    });
}

type SettingsOptions = {
  url?: string;
  user?: string;
  passwordStdin?: boolean;
  clearPassword?: boolean;
  database?: string;
  table?: string;
  cluster?: string | boolean;
  ca?: string;
  cert?: string;
  key?: string;
  tlsFiles?: boolean;
  batchRows?: number;
  test?: boolean;
  save?: boolean;
};

async function patchFrom(opts: SettingsOptions, ctx: CliContext): Promise<ClickHouseSettingsPatch> {
  const patch: ClickHouseSettingsPatch = {};
  if (opts.url !== undefined) patch.url = opts.url;
  if (opts.user !== undefined) patch.user = opts.user;
  if (opts.database !== undefined) patch.database = opts.database;
  if (opts.table !== undefined) patch.table = opts.table;
  if (typeof opts.cluster === 'string') patch.cluster = opts.cluster;
  else if (opts.cluster === false) patch.cluster = null;
  if (opts.tlsFiles === false) Object.assign(patch, { caFile: null, certFile: null, keyFile: null });
  if (opts.ca !== undefined) patch.caFile = opts.ca;
  if (opts.cert !== undefined) patch.certFile = opts.cert;
  if (opts.key !== undefined) patch.keyFile = opts.key;
  if (opts.batchRows !== undefined) patch.batchRows = opts.batchRows;
  if (opts.clearPassword === true) patch.password = null;
  if (opts.passwordStdin === true) {
    if (!ctx.json() && process.stdin.isTTY) ctx.io.stderr('Password (then Enter and Ctrl-D): ');
    patch.password = (await readStdin()).replace(/\r?\n$/, '');
  }
  return patch;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function describeSettings(s: ClickHouseSettingsView): string {
  const tls = [s.tls.caFile && `CA ${s.tls.caFile}`, s.tls.certFile && `client cert ${s.tls.certFile}`, s.tls.keyFile && `key ${s.tls.keyFile}`].filter(Boolean).join(', ');
  return formatTable(
    [
      ['url', s.url],
      ['user', s.user],
      ['password', s.passwordSet ? 'set' : 'not set'],
      ['database', s.database],
      ['table', `${s.table} (losses: ${s.table}_loss)`],
      ['cluster', s.cluster ?? '(single server)'],
      ['tls files', tls === '' ? '(none)' : tls],
      ['batch rows', String(s.batchRows)],
    ],
    [{ header: 'SETTING', value: (r: string[]) => r[0] ?? '' }, { header: 'VALUE', value: (r: string[]) => r[1] ?? '' }],
  );
}

function positive(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n <= 0) throw new InvalidArgumentError('expected a positive whole number.');
  return n;
}

/** Rows per insert, within the bounds the setting has (`forward --batch-rows` too). */
export function batchRows(value: string): number {
  const n = positive(value);
  if (n < FORWARD_BATCH_ROWS.min || n > FORWARD_BATCH_ROWS.max) throw new InvalidArgumentError(`expected ${FORWARD_BATCH_ROWS.min} to ${FORWARD_BATCH_ROWS.max}.`);
  return n;
}

