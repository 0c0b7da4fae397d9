/**
 * Small signed model bundles for tests that only need a bundle to read (not a Pi to deploy
 * to): signed with a fresh key that the given trust store trusts, plus tampered copies.
 */
import { copyFileSync, openSync, readSync, writeSync, closeSync } from 'node:fs';
import path from 'node:path';
import { buildModelBundle } from '../../electron/deploy/buildModelBundle.ts';
import { generateSecretKey } from '../../electron/kernel/signing/minisign.ts';
import { formatPublicKey, publicKeyOf, type MinisignSecretKey } from '../../electron/kernel/signing/minisignFormat.ts';
import { listUstar } from '../../electron/kernel/signing/ustarArchive.ts';

export type ModelBundles = {
  key: MinisignSecretKey;
  /** The .pub text, for importTrustedKey or `trust.import`. */
  publicKey: string;
  /** Builds a signed model bundle `name`.tar in `dir` (as the publisher would). */
  build(name: string, version?: string): Promise<string>;
  /**
   * A copy of `archive` with one byte of member `member` changed (its content, so the tar
   * headers stay valid): the first byte of `text` within it, else its first byte.
   */
  tamper(archive: string, member: string, copyName: string, text?: string): Promise<string>;
};

export function modelBundles(dir: string, key: MinisignSecretKey = generateSecretKey()): ModelBundles {
  return {
    key,
    publicKey: formatPublicKey(publicKeyOf(key)),
    async build(name, version = '1.0.0') {
      const archive = path.join(dir, `${name}.tar`);
      await buildModelBundle({
        archive,
        name: 'people-detector',
        version,
        key,
        install: { prefix: '/opt/fieldkit-agent', service: 'inference.service', health_command: 'true' },
        files: [
          { path: 'model.bin', source: { kind: 'bytes', bytes: Buffer.from(`FKMODEL v1\n${'w'.repeat(4096)}`) } },
          { path: 'labels.txt', source: { kind: 'bytes', bytes: Buffer.from('person\ncar\n') } },
        ],
      });
      return archive;
    },
    async tamper(archive, member, copyName, text) {
      const target = path.join(dir, copyName);
      copyFileSync(archive, target);
      const found = (await listUstar(target)).find((m) => m.path === member);
      if (found === undefined) throw new Error(`${member} is not in ${archive}`);
      const fd = openSync(target, 'r+');
      try {
        const content = Buffer.alloc(found.size);
        readSync(fd, content, 0, found.size, found.offset);
        const at = text === undefined ? 0 : content.indexOf(text);
        if (at < 0) throw new Error(`${JSON.stringify(text)} is not in ${member}`);
        const byte = Buffer.alloc(1);
        readSync(fd, byte, 0, 1, found.offset + at);
        byte[0] = (byte[0] ?? 0) ^ 0x01;
        writeSync(fd, byte, 0, 1, found.offset + at);
      } finally {
        closeSync(fd);
      }
      return target;
    },
  };
}
