/**
 * `fieldkit flash IMAGE --to DRIVE [--to DRIVE …]`: the Flash screen on the command line.
 * Shows what the image is and each drive (name, description, size), asks for confirmation
 * (or takes --yes; without a terminal it refuses rather than guess), starts the flash.write
 * job, draws a progress bar per drive, and ends with one line per drive. Ctrl-C cancels.
 * Exit code 0 only when every drive succeeded.
 */
import path from 'node:path';
import { createInterface } from 'node:readline/promises';
import type { Command } from 'commander';
import { driveLabel, driveModel, type Drive } from '../../../shared/drives.ts';
import { appError, FieldkitError } from '../../../shared/errors.ts';
import { FlashIdentitySchema, FlashResultSchema, type FlashIdentityInput, type FlashTargetResult, type ImageSummary } from '../../../shared/flash.ts';
import { formatBytes, formatDuration } from '../../../shared/format.ts';
import { readTextFile } from '../../kernel/signing/minisign.ts';
import type { CliContext } from '../../kernel/cli/cliContext.ts';
import { exitCodes } from '../../kernel/cli/cliIo.ts';
import { formatTable } from '../../kernel/cli/formatTable.ts';
import { followJob } from '../../kernel/cli/jobProgress.ts';

type FlashOptions = { to: string[]; identity?: string; acceptUnsigned?: boolean; skipZeroBlocks?: boolean; writeAll?: boolean; eject: boolean; yes?: boolean };

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/**
 * The identities in an --identity file, one per drive in --to order: a JSON object for one
 * drive, or an array with one object per drive. One object for several drives is refused —
 * two Pis must not share a device id.
 */
export function parseIdentityFile(text: string, driveCount: number, file: string): FlashIdentityInput[] {
  const bad = (message: string, hint: string): FieldkitError => new FieldkitError(appError('BAD_REQUEST', `${path.basename(file)}: ${message}`, hint, 'identity'));
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw bad(`not JSON (${(error as Error).message}).`, 'Write the identity as JSON: {"deviceId": "pi-017", "hostname": "pi-017", "site": "north-yard"}.');
  }
  const list: unknown[] = Array.isArray(json) ? json : [json];
  if (!Array.isArray(json) && driveCount > 1) {
    throw bad(`one identity for ${driveCount} drives: two Pis must not share a device id.`, `Give a JSON array with one identity per --to drive, in the same order (${driveCount} entries).`);
  }
  if (list.length !== driveCount) throw bad(`${list.length} identities for ${driveCount} drive${driveCount === 1 ? '' : 's'}.`, 'Give exactly one identity per --to drive, in the same order.');
  return list.map((entry, index) => {
    const parsed = FlashIdentitySchema.safeParse(entry);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw bad(`identity ${index + 1}: ${issue?.path.join('.') ?? ''} ${issue?.message ?? 'is not valid'}.`, 'Fix that field; an identity has deviceId, hostname, and optionally site, sshPublicKeys and agentConfig.');
    }
    return entry as FlashIdentityInput;
  });
}

/** What the image is; `problems: false` when they are about to be said as the refusal itself (once). */
function describeSummary(image: ImageSummary, options: { problems: boolean } = { problems: true }): string {
  const lines: string[] = [];
  if (image.kind === 'signed') {
    const signer = image.signature.signer === null ? `key ${image.signature.keyId ?? '?'}` : `${image.signature.signer} (key ${image.signature.keyId ?? '?'})`;
    lines.push(`${image.product ?? '?'} ${image.version ?? ''} for ${image.boards.join(', ')} — signature ${image.signature.status}, ${signer}`);
    lines.push(`  ${formatBytes(image.rawBytes ?? 0)} disk image, ${formatBytes(image.mappedBytes ?? 0)} to write; expires ${image.expiresAt ?? '?'}; first boot: ${image.firstBoot}`);
  } else {
    lines.push(`${path.basename(image.path)} — unsigned ${image.compression === 'none' ? 'raw' : image.compression} image, ${image.rawBytes === null ? 'size unknown until decompressed' : formatBytes(image.rawBytes)}`);
  }
  for (const warning of image.warnings) lines.push(`  WARNING: ${warning}`);
  if (options.problems) for (const problem of image.problems) lines.push(`  cannot flash: ${problem.message}`);
  return lines.join('\n');
}

const resultColumns = [
  { header: 'DRIVE', value: (t: FlashTargetResult) => t.device },
  { header: 'RESULT', value: (t: FlashTargetResult) => (t.status === 'success' ? 'success' : t.status === 'refused' ? 'refused (unchanged)' : (t.label ?? 'incomplete')) },
  { header: 'WRITTEN', value: (t: FlashTargetResult) => formatBytes(t.bytesWritten), align: 'right' as const },
  { header: 'VERIFIED', value: (t: FlashTargetResult) => formatBytes(t.bytesVerified), align: 'right' as const },
  { header: 'TOOK', value: (t: FlashTargetResult) => formatDuration(t.seconds), align: 'right' as const },
  { header: 'NOTE', value: (t: FlashTargetResult) => t.error?.message ?? [t.firstBootFiles.length > 0 ? `identity: ${t.firstBootFiles.length} files` : '', t.ejected ? 'ejected' : ''].filter((x) => x !== '').join(', ') },
];

async function confirm(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return (await rl.question(question)).trim().toLowerCase() === 'yes';
  } finally {
    rl.close();
  }
}

export function addFlashCommands(program: Command, ctx: CliContext): void {
  program
    .command('flash <image>')
    .description('flash a signed .fkimg (or, when allowed, a plain .img[.xz|.gz|.zst]) to one or more drives at once, verified and with a first-boot identity (a job; Ctrl-C cancels)')
    .requiredOption('--to <drive>', 'a drive to flash, as `fieldkit drives` names it (repeat for several)', collect)
    .option('--identity <file.json>', 'first-boot identity: a JSON object for one drive, or an array with one per --to, in order')
    .option('--accept-unsigned', 'flash an unsigned image (the policy must allow them too)')
    .option('--skip-zero-blocks', 'plain images: leave all-zero blocks unwritten (only for drives known to read zeros)')
    .option('--write-all', 'signed images: write every byte, free filesystem space too, so the drive equals the raw image (slower)')
    .option('--no-eject', 'leave the drives attached afterwards')
    .option('--yes', 'do not ask for confirmation (scripts)')
    .action(async (imageArg: string, opts: FlashOptions) => {
      const imagePath = path.resolve(imageArg);
      const identities = opts.identity === undefined ? null : parseIdentityFile(await readTextFile(opts.identity, 'identity file'), opts.to.length, opts.identity);
      const { image } = await ctx.call('flash.inspect', { imagePath });
      if (image.problems.length > 0) {
        const [first] = image.problems;
        if (!ctx.json()) ctx.io.stderr(describeSummary(image, { problems: false }) + '\n');
        if (first !== undefined) throw new FieldkitError({ ...first, message: image.problems.map((p) => p.message).join(' ') });
      }
      const { drives } = await ctx.call('drives.list', image.rawBytes === null ? {} : { imageSizeBytes: image.rawBytes });
      const picked = opts.to.map((name) => {
        const drive = drives.find((d) => d.device === name || d.raw === name);
        if (drive === undefined) throw new FieldkitError(appError('NOT_FOUND', `No drive ${name} is attached.`, 'List the drives with `fieldkit drives` and name one of them with --to.', 'to'));
        if (!drive.flashable || drive.sizeBytes === null) {
          throw new FieldkitError(appError('CONFLICT', `${driveLabel(drive)} may not be flashed: ${drive.refusals.map((r) => r.message).join(' ')}`, 'Pick another drive (`fieldkit drives` says which may be flashed).', 'to'));
        }
        return drive as Drive & { sizeBytes: number };
      });
      if (!ctx.json()) {
        ctx.io.stderr(`${describeSummary(image)}\n\nTo ${picked.length === 1 ? 'this drive' : `these ${picked.length} drives`} (everything on ${picked.length === 1 ? 'it' : 'them'} is replaced):\n`);
        picked.forEach((d, i) => {
          const identity = identities?.[i];
          const who = identity === undefined ? '' : `  → ${identity.deviceId} (${identity.hostname})`;
          ctx.io.stderr(`  ${d.device}  ${driveModel(d) ?? 'no model name'}  ${formatBytes(d.sizeBytes)}${d.warnings.length > 0 ? `  [${d.warnings.map((w) => w.message).join(' ')}]` : ''}${who}\n`);
        });
      }
      if (opts.yes !== true) {
        if (!process.stdin.isTTY) {
          throw new FieldkitError(appError('BAD_REQUEST', 'Flashing replaces everything on the drives, and there is no terminal to confirm it in.', 'Check the drives above, then run the same command with --yes.', 'yes'));
        }
        if (!(await confirm(`Type yes to flash ${picked.map((d) => `${d.device} (${formatBytes(d.sizeBytes)})`).join(', ')}: `))) {
          ctx.io.stderr('Not flashed: nothing was written.\n');
          ctx.setExitCode(exitCodes.cancelled);
          return;
        }
      }
      const services = await ctx.open();
      const { jobId } = await ctx.call('flash.start', {
        imagePath,
        targets: picked.map((d, i) => ({ device: d.device, expectSizeBytes: d.sizeBytes, ...(identities?.[i] === undefined ? {} : { identity: identities[i] }) })),
        acceptUnsigned: opts.acceptUnsigned === true,
        skipZeroBlocks: opts.skipZeroBlocks === true,
        writeAll: opts.writeAll === true,
        eject: opts.eject,
      });
      const record = await followJob(jobId, { events: services.events, jobs: services.jobs, io: ctx.io, json: ctx.json() });
      const result = FlashResultSchema.safeParse(record.result);
      const targets = result.success ? result.data.targets : [];
      ctx.print({ job: { id: record.id, state: record.state, error: record.error }, result: result.success ? result.data : null }, () => {
        const lines = [targets.length > 0 ? formatTable(targets, resultColumns) : `No drive was flashed: ${record.error?.message ?? record.state}.`];
        if (targets.some((t) => t.status === 'incomplete')) lines.push('A drive marked incomplete must not be used: flash it again.');
        if (record.error !== null && targets.length > 0) lines.push(`what to do: ${record.error.hint}`);
        return lines.join('\n');
      });
      ctx.setExitCode(record.state === 'done' ? exitCodes.ok : record.state === 'cancelled' ? exitCodes.cancelled : exitCodes.failed);
    });
}
