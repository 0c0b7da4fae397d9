/**
 * `fieldkit keygen | sign | verify`: minisign keys and signatures from the command line.
 * CLI-only tools (they touch local files, not the app's services), so they are not app-API
 * methods. Failures throw FieldkitError; runCli prints the error and what to do, exit 1.
 */
import path from 'node:path';
import type { Command } from 'commander';
import { writeNewKeyPair, writeSignatureFile } from '../../kernel/signing/keyFiles.ts';
import { defaultTrustedComment, readPublicKey, readSecretKey, signatureSuffix, signFile, verifyFile } from '../../kernel/signing/minisign.ts';
import { formatKeyId, keyPasswordVariable, publicKeyBase64, publicKeyOf } from '../../kernel/signing/minisignFormat.ts';
import { appError, FieldkitError } from '../../../shared/errors.ts';
import { isSignedBundle, verifySignedBundle } from '../../kernel/signing/verifyBundle.ts';
import type { CliIo } from '../../kernel/cli/cliIo.ts';

function requirePassword(): string {
  const password = process.env[keyPasswordVariable];
  if (password === undefined || password === '') {
    throw new FieldkitError(appError('BAD_REQUEST', `--encrypt needs a password in $${keyPasswordVariable}.`, `Set ${keyPasswordVariable} for this command (read it with \`read -rs ${keyPasswordVariable}; export ${keyPasswordVariable}\` so it stays out of the shell history).`));
  }
  return password;
}

/** Adds the three commands to `program`; `json` says whether --json was given. */
export function addSigningCommands(program: Command, io: CliIo, json: () => boolean): void {
  function print(value: unknown, human: string): void {
    io.stdout((json() ? JSON.stringify(value, null, 2) : human) + '\n');
  }

  program
    .command('keygen')
    .description('make a minisign key pair: <out>/fieldkit.key (secret, mode 0600) and <out>/fieldkit.pub')
    .requiredOption('--out <dir>', 'folder for the two key files (never overwritten)')
    .option('--name <name>', 'file name without extension', 'fieldkit')
    .option('--encrypt', `protect the secret key with the password in $${keyPasswordVariable} (as minisign -G does)`)
    .action(async (opts: { out: string; name: string; encrypt?: boolean }) => {
      const password = opts.encrypt === true ? requirePassword() : undefined;
      const pair = await writeNewKeyPair(path.resolve(opts.out), opts.name, password);
      const publicKey = publicKeyBase64(publicKeyOf(pair.key));
      print(
        { secretKeyFile: pair.secretKeyFile, publicKeyFile: pair.publicKeyFile, keyId: pair.keyId, publicKey },
        [
          `Key pair ${pair.keyId} written:`,
          `  secret  ${pair.secretKeyFile}   keep it private and backed up offline; ${password === undefined ? 'it is not password-protected' : `its password is the one in $${keyPasswordVariable}`}`,
          `  public  ${pair.publicKeyFile}   give this to whoever verifies (and to the app's trust store)`,
          '',
          `Verify with the stock tool: minisign -V -P ${publicKey} -m <file>`,
        ].join('\n'),
      );
    });

  program
    .command('sign <file>')
    .description(`sign a file with a minisign secret key, writing <file>${signatureSuffix} (prehashed, as minisign -S does)`)
    .requiredOption('--key <secret>', `minisign secret key file (fieldkit keygen or minisign -G; a password-protected one takes its password from $${keyPasswordVariable})`)
    .option('--trusted-comment <text>', 'signed one-line comment (default: timestamp and file name)')
    .action(async (file: string, opts: { key: string; trustedComment?: string }) => {
      const key = await readSecretKey(opts.key, process.env[keyPasswordVariable]);
      const sig = await signFile(key, file, { trustedComment: opts.trustedComment ?? defaultTrustedComment(file) });
      const sigFile = file + signatureSuffix;
      await writeSignatureFile(sigFile, sig);
      print({ file, signatureFile: sigFile, keyId: formatKeyId(key.keyId), trustedComment: sig.trustedComment }, `Signed ${file} with key ${formatKeyId(key.keyId)}: ${sigFile}`);
    });

  program
    .command('verify <path>')
    .description('verify a signed file, or a signed bundle (a .tar or unpacked folder with manifest.json): the manifest signature, then every file it lists')
    .requiredOption('--pub <key.pub>', 'the trusted minisign public key')
    .option('--sig <file>', `signature of a plain file (default: <file>${signatureSuffix})`)
    .action(async (target: string, opts: { pub: string; sig?: string }) => {
      const key = await readPublicKey(opts.pub);
      if (opts.sig === undefined && (await isSignedBundle(target))) {
        const bundle = await verifySignedBundle(target, key);
        print(
          { ok: true, kind: 'bundle', path: target, ...bundle, signedAt: bundle.signature.signedAt?.toISOString() ?? null },
          `Verified ${target}: manifest signed by key ${bundle.signature.keyId}, ${bundle.files.length} files match their SHA-256 and size.\n` +
            `  ${bundle.manifest.product} ${bundle.manifest.version} linux-${bundle.manifest.arch}, Node ${bundle.manifest.node_version}, built ${bundle.manifest.created_at}`,
        );
        return;
      }
      const verified = await verifyFile(key, target, opts.sig);
      print(
        { ok: true, kind: 'file', path: target, ...verified, signedAt: verified.signedAt?.toISOString() ?? null },
        `Verified ${target}: signed by key ${verified.keyId}.\n  trusted comment: ${verified.trustedComment}`,
      );
    });
}
