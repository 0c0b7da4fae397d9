/**
 * `fieldkit image pack | verify | inspect`: signed fieldkit images from the command line.
 * CLI-only tools (they work on local files, not the app's services), so they are not
 * app-API methods. Failures throw FieldkitError; runCli prints the error and what to do.
 */
import path from 'node:path';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { appError, FieldkitError } from '../../../shared/errors.ts';
import { formatBytes } from '../../../shared/format.ts';
import { BoardSchema, freeBytes, mappedBytes, type Board, type ImageManifest } from '../../../shared/image.ts';
import type { TrustedKey } from '../../../shared/trust.ts';
import type { ImageSummary } from '../../../shared/flash.ts';
import { packImage } from '../../kernel/image/packImage.ts';
import { resignImage } from '../../kernel/image/resignImage.ts';
import { checkImageManifestTrusted } from '../../kernel/trust/trustStore.ts';
import { checkImageManifest, checkImagePayload, readUnverifiedManifest } from '../../kernel/image/verifyImage.ts';
import { readPublicKey, readSecretKey, readTextFile } from '../../kernel/signing/minisign.ts';
import { formatKeyId, keyPasswordVariable } from '../../kernel/signing/minisignFormat.ts';
import type { CliIo } from '../../kernel/cli/cliIo.ts';

function parseBoards(value: string): Board[] {
  const boards = value.split(',').map((b) => b.trim()).filter((b) => b !== '');
  const bad = boards.find((b) => !BoardSchema.safeParse(b).success);
  if (bad !== undefined || boards.length === 0) throw new InvalidArgumentError(`boards are a comma-separated list of ${BoardSchema.options.join(', ')}`);
  return boards.map((b) => BoardSchema.parse(b));
}

function parseBoard(value: string): Board {
  const parsed = BoardSchema.safeParse(value);
  if (!parsed.success) throw new InvalidArgumentError(`one of ${BoardSchema.options.join(', ')}`);
  return parsed.data;
}

function parseCount(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError('a whole number');
  return Number(value);
}

/** The human summary of a manifest: what, for which boards, how big, and the A/B layout. */
export function describeImage(manifest: ImageManifest): string {
  const p = manifest.payload;
  const lines = [
    `${manifest.product} ${manifest.version} (sequence ${manifest.sequence}) for ${manifest.boards.join(', ')}`,
    `  issued ${manifest.issued_at}, expires ${manifest.expires_at}`,
    `  disk image ${formatBytes(p.raw_size)}, ${formatBytes(mappedBytes(manifest.block_map))} data in ${manifest.block_map.ranges.length} ranges, ${formatBytes(freeBytes(manifest.block_map))} free filesystem space a flash may skip; stored ${p.compression} ${formatBytes(p.compressed_size)}`,
    `  first boot: ${manifest.first_boot === undefined ? 'none declared' : `${manifest.first_boot.kind} (user ${manifest.first_boot.user})`}`,
    `  partitions (${manifest.layout.table}):`,
    ...manifest.layout.partitions.map((part) => `    ${String(part.index).padStart(3)}  ${part.role.padEnd(8)} start ${formatBytes(part.start).padStart(9)}  size ${formatBytes(part.size).padStart(9)}  type ${part.type}${part.label === undefined ? '' : `  "${part.label}"`}`),
  ];
  return lines.join('\n');
}

/** The signature's standing in words, as the Flash screen's badge says it. */
function describeSignature(summary: ImageSummary): string {
  const { status, keyId, signer, revokedReason } = summary.signature;
  const key = keyId === null ? '' : ` (key ${keyId})`;
  switch (status) {
    case 'trusted':
      return `signed by ${signer ?? 'a trusted key'}${key}; payload not checked (use image verify)`;
    case 'untrusted':
      return `signed by a key this laptop does not trust${key} (fieldkit trust import KEY.pub)`;
    case 'revoked':
      return `signed by a revoked key${key}${revokedReason === null ? '' : `: ${revokedReason}`}`;
    case 'invalid':
      return `the signature does not match the manifest${key}: do not use this image`;
    case 'unsigned':
      return 'a plain, unsigned image: fieldkit cannot tell who made it';
  }
}

function describePlain(summary: ImageSummary): string {
  return `plain ${summary.compression} image, ${summary.rawBytes === null ? 'disk size not stated' : `disk image ${formatBytes(summary.rawBytes)}`}, file ${formatBytes(summary.fileBytes)}`;
}

/**
 * Adds `image pack|verify|inspect` to `program`; `json` says whether --json was given;
 * `trustStore` gives the app's trusted keys, for `verify` without --pub; `inspectImage` is
 * the app's flash.inspect (signature judged against the trust store, plain images too).
 */
export function addImageCommands(
  program: Command,
  io: CliIo,
  json: () => boolean,
  trustStore: () => Promise<readonly TrustedKey[]>,
  inspectImage: (imagePath: string) => Promise<ImageSummary>,
): void {
  function print(value: unknown, human: string): void {
    io.stdout((json() ? JSON.stringify(value, null, 2) : human) + '\n');
  }
  const image = program.command('image').description('signed fieldkit images (.fkimg): pack a raw disk image, verify, inspect');

  image
    .command('pack <raw>')
    .description('compress a raw disk image with zstd, map its data ranges, read its partition table, and sign the manifest')
    .requiredOption('--out <file>', 'the .fkimg to write')
    .requiredOption('--product <name>', 'product name (letters, digits, . _ -)')
    .requiredOption('--image-version <version>', 'the release version shown to technicians (not --version: that prints fieldkit\'s own)')
    .requiredOption('--sequence <n>', 'release number that grows with every release', parseCount)
    .requiredOption('--boards <list>', `boards it runs on: ${BoardSchema.options.join(',')}`, parseBoards)
    .option('--expires-days <n>', 'days until the image is refused', parseCount, 180)
    .addOption(new Option('--compression <kind>', 'payload compression').choices(['zstd', 'gz', 'none']).default('zstd'))
    .addOption(new Option('--first-boot <kind>', 'how the image customises itself on first boot, so a flash writes the matching files').choices(['cloud-init', 'firstrun']))
    .option('--first-boot-user <name>', 'the login user the SSH keys are authorised for (with --first-boot)', 'pi')
    .option('--keep-free-space', 'store free ext/FAT filesystem space as it is (the payload is then the raw image byte for byte) instead of as zeros left out of the block map')
    .requiredOption('--key <secret>', `minisign secret key (a password-protected one takes its password from $${keyPasswordVariable})`)
    .action(async (raw: string, opts: { out: string; product: string; imageVersion: string; sequence: number; boards: Board[]; expiresDays: number; key: string; compression: 'zstd' | 'gz' | 'none'; firstBoot?: 'cloud-init' | 'firstrun'; firstBootUser: string; keepFreeSpace?: boolean }) => {
      if (opts.expiresDays < 1) throw new FieldkitError(appError('BAD_REQUEST', '--expires-days must be at least 1.', 'Give how many days technicians may flash this image.', 'expires-days'));
      const key = await readSecretKey(opts.key, process.env[keyPasswordVariable]);
      const packed = await packImage(raw, path.resolve(opts.out), { product: opts.product, version: opts.imageVersion, sequence: opts.sequence, boards: opts.boards, expiresDays: opts.expiresDays, key, compression: opts.compression, unmapFreeSpace: opts.keepFreeSpace !== true, ...(opts.firstBoot === undefined ? {} : { firstBoot: { kind: opts.firstBoot, user: opts.firstBootUser } }) });
      const freeLine = packed.freeSpace.freeBytes > 0 ? `\n  free filesystem space stored as zeros, left out of the block map: ${formatBytes(packed.freeSpace.freeBytes)} (${packed.freeSpace.partitions.flatMap((p) => (p.filesystem === null ? [] : [`${p.index} ${p.filesystem}`])).join(', ')})` : '';
      const zeroFrames = packed.manifest.payload.zero_frames ?? [];
      const framesLine = zeroFrames.length > 0 ? `\n  empty stretches packed as zstd frames of their own, passed by undecoded when flashing: ${String(zeroFrames.length)} (${formatBytes(zeroFrames.reduce((sum, f) => sum + f.raw_length, 0))})` : '';
      print({ file: packed.file, manifest: packed.manifest, freeSpace: { bytes: packed.freeSpace.freeBytes, partitions: packed.freeSpace.partitions.map((p) => (p.filesystem === null ? { index: p.index, filesystem: null, reason: p.reason } : { index: p.index, filesystem: p.filesystem, freeBytes: p.freeBytes })) } }, `Packed ${packed.file}:\n${describeImage(packed.manifest)}${freeLine}${framesLine}`);
    });

  image
    .command('sign <file>')
    .description("replace a packed image's manifest signature: with --key, or with a manifest.json.minisig made by the stock minisign")
    .option('--key <secret>', `minisign secret key (a password-protected one takes its password from $${keyPasswordVariable})`)
    .option('--sig <manifest.json.minisig>', 'a signature of the image\'s manifest.json made elsewhere (minisign -S -m manifest.json)')
    .action(async (file: string, opts: { key?: string; sig?: string }) => {
      if ((opts.key === undefined) === (opts.sig === undefined)) {
        throw new FieldkitError(appError('BAD_REQUEST', 'Give exactly one of --key and --sig.', 'Sign with your secret key (--key), or put in a signature made with the stock minisign (--sig).'));
      }
      const keyId =
        opts.key !== undefined
          ? await resignImage(file, { kind: 'key', key: await readSecretKey(opts.key, process.env[keyPasswordVariable]) })
          : await resignImage(file, { kind: 'minisig', text: await readTextFile(opts.sig ?? '', 'signature') });
      print({ file, keyId: formatKeyId(keyId) }, `Signed ${file}'s manifest with key ${formatKeyId(keyId)}. Check it with: fieldkit image verify ${file} --pub <key.pub>`);
    });

  image
    .command('verify <file>')
    .description('check signature, manifest, expiry, board and sizes, then stream the payload and check its hashes and block map')
    .option('--pub <key.pub...>', 'trust these minisign public key(s) instead of the trust store (fieldkit trust list)')
    .option('--board <board>', 'refuse unless the image lists this board', parseBoard)
    .action(async (file: string, opts: { pub?: string[]; board?: Board }) => {
      const board = opts.board === undefined ? {} : { board: opts.board };
      const verified =
        opts.pub === undefined
          ? await checkImageManifestTrusted(await trustStore(), file, board)
          : await checkImageManifest(file, { trustedKeys: await Promise.all(opts.pub.map((p) => readPublicKey(p))), ...board });
      await checkImagePayload(file, verified);
      print(
        { ok: true, file, keyId: verified.signature.keyId, signedAt: verified.signature.signedAt?.toISOString() ?? null, manifest: verified.manifest },
        `Verified ${file}: manifest signed by key ${verified.signature.keyId}; payload, raw image and ${verified.manifest.block_map.ranges.length} mapped ranges match.\n${describeImage(verified.manifest)}`,
      );
    });

  image
    .command('inspect <file>')
    .description('show what an image says it is (manifest summary and partition layout); add --pub to check the signature too')
    .option('--pub <key.pub>', 'check the manifest signature with this key')
    .action(async (file: string, opts: { pub?: string }) => {
      if (opts.pub !== undefined) {
        const verified = await checkImageManifest(file, { trustedKeys: [await readPublicKey(opts.pub)] });
        print({ file, signature: 'verified', keyId: verified.signature.keyId, manifest: verified.manifest }, `${file}: manifest signature verified (key ${verified.signature.keyId}); payload not checked (use image verify).\n${describeImage(verified.manifest)}`);
        return;
      }
      const summary = await inspectImage(path.resolve(file));
      const manifest = summary.kind === 'signed' ? (await readUnverifiedManifest(file)).manifest : null;
      print(
        { file, signature: summary.signature.status, keyId: summary.signature.keyId, signer: summary.signature.signer, summary, manifest },
        [`${file}: ${describeSignature(summary)}`, manifest === null ? describePlain(summary) : describeImage(manifest), ...summary.warnings.map((w) => `warning: ${w}`), ...summary.problems.map((p) => `cannot be flashed: ${p.message}${p.hint ? ` ${p.hint}` : ''}`)].join('\n'),
      );
    });
}
