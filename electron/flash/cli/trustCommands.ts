/**
 * `fieldkit trust list|import|revoke` (the image signing keys this laptop trusts) and
 * `fieldkit settings flash` (whether unsigned images may be flashed).
 */
import { type Command, InvalidArgumentError } from 'commander';
import type { FlashSettings, TrustedKey } from '../../../shared/trust.ts';
import { readTextFile } from '../../kernel/signing/minisign.ts';
import type { CliContext } from '../../kernel/cli/cliContext.ts';
import { formatTable } from '../../kernel/cli/formatTable.ts';

const day = (ms: number): string => new Date(ms).toISOString().slice(0, 10);

const keyColumns = [
  { header: 'KEY ID', value: (k: TrustedKey) => k.keyId },
  { header: 'LABEL', value: (k: TrustedKey) => k.label },
  { header: 'ADDED', value: (k: TrustedKey) => day(k.addedMs) },
  { header: 'REVOKED', value: (k: TrustedKey) => (k.revokedMs === null ? '-' : `${day(k.revokedMs)}: ${k.revokedReason ?? ''}`) },
];

function onOff(value: string): boolean {
  if (value === 'on') return true;
  if (value === 'off') return false;
  throw new InvalidArgumentError('on or off');
}

function describeFlash(settings: FlashSettings): string {
  return settings.allowUnsigned
    ? 'Unsigned images: allowed. Unsigned images will be flashed with a warning on every flash.'
    : 'Unsigned images: refused (only images signed by a trusted key are flashed).';
}

export function addTrustCommands(program: Command, ctx: CliContext): void {
  const trust = program.command('trust').description('image signing keys this laptop trusts: list, import a .pub, revoke');
  trust
    .command('list', { isDefault: true })
    .description('trusted keys, revoked ones included')
    .action(async () => {
      const { keys } = await ctx.call('trust.list', {});
      ctx.print({ keys }, () => (keys.length === 0 ? 'No image keys are trusted yet. Add one with: fieldkit trust import <file.pub> --label …' : formatTable(keys, keyColumns)));
    });
  trust
    .command('import <file.pub>')
    .description("trust a publisher's minisign public key (from fieldkit keygen or minisign -G)")
    .requiredOption('--label <text>', 'whose key this is, such as "release key 2026"')
    .action(async (file: string, opts: { label: string }) => {
      const { key } = await ctx.call('trust.import', { publicKey: await readTextFile(file, 'public key'), label: opts.label });
      ctx.print({ key }, () => `Trusted key ${key.keyId} (${key.label}). Check this id with the publisher.`);
    });
  trust
    .command('revoke <keyId>')
    .description('stop trusting a key for good: images it signed are refused and it cannot be imported again')
    .requiredOption('--reason <text>', 'why (kept with the key and shown when an image it signed is refused)')
    .action(async (keyId: string, opts: { reason: string }) => {
      const { key } = await ctx.call('trust.revoke', { keyId, reason: opts.reason });
      ctx.print({ key }, () => `Revoked key ${key.keyId} (${key.label}) on ${day(key.revokedMs ?? 0)}: ${key.revokedReason ?? ''}`);
    });

  const settings = program.commands.find((c) => c.name() === 'settings') ?? program.command('settings').description('fieldkit settings');
  settings
    .command('flash')
    .description('show or change whether unsigned images may be flashed (off by default)')
    .option('--allow-unsigned <on|off>', 'allow unsigned images, with a warning on every flash', onOff)
    .action(async (opts: { allowUnsigned?: boolean }) => {
      const result = opts.allowUnsigned === undefined ? await ctx.call('settings.flash.get', {}) : await ctx.call('settings.flash.set', { allowUnsigned: opts.allowUnsigned });
      ctx.print(result, () => describeFlash(result.settings));
    });
}
