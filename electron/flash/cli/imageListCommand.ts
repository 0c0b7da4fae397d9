/**
 * `fieldkit image list [DIR]`: the Flash screen's file picker on the command line
 * (`flash.browse`): a folder's subfolders and image files, and the images picked before.
 */
import path from 'node:path';
import type { Command } from 'commander';
import type { ResponseOf } from '../../../shared/api.ts';
import { formatBytes } from '../../../shared/format.ts';
import type { CliContext } from '../../kernel/cli/cliContext.ts';
import { formatTable } from '../../kernel/cli/formatTable.ts';

type Listing = ResponseOf<'flash.browse'>;
type Entry = Listing['entries'][number];

const kindLabels: Record<Entry['kind'], string> = { dir: 'folder', signed: 'signed', plain: 'unsigned' };

const entryColumns = [
  { header: 'KIND', value: (e: Entry) => kindLabels[e.kind] },
  { header: 'SIZE', value: (e: Entry) => (e.bytes === null ? '' : formatBytes(e.bytes)), align: 'right' as const },
  { header: 'MODIFIED', value: (e: Entry) => new Date(e.modifiedMs).toISOString().replace('T', ' ').slice(0, 16) },
  { header: 'NAME', value: (e: Entry) => (e.kind === 'dir' ? `${e.name}/` : e.name) },
];

/** The human listing: the folder, its entries, then the recent images. */
export function describeListing(listing: Listing): string {
  const lines = [`${listing.dir}${listing.parent === null ? '' : `  (parent: ${listing.parent})`}`];
  lines.push(listing.entries.length === 0 ? 'No folders or image files here (.fkimg, .img, .img.xz, .img.gz, .img.zst).' : formatTable(listing.entries, entryColumns));
  if (listing.recent.length > 0) lines.push('', 'Recent images:', ...listing.recent.map((p) => `  ${p}`));
  return lines.join('\n');
}

/** Adds `image list [dir]` to the `image` command group (made by addImageCommands). */
export function addImageListCommand(program: Command, ctx: CliContext): void {
  const image = program.commands.find((c) => c.name() === 'image') ?? program.command('image').description('signed fieldkit images');
  image
    .command('list [dir]')
    .description('folders and image files in DIR (default: ~/Downloads, else home), and the images inspected or flashed before')
    .action(async (dir: string | undefined) => {
      const listing = await ctx.call('flash.browse', dir === undefined ? {} : { dir: path.resolve(dir) });
      ctx.print(listing, () => describeListing(listing));
    });
}
