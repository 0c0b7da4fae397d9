/**
 * A signed test image with much more mapped data than build/make-test-image.ts's ~10 MiB:
 * the A/B image followed by `extraMiB` of random bytes (mapped, incompressible). On a drive
 * throttled with slowDrive.ts a flash of it lasts long enough to cancel, cut off or kill
 * mid-write without racing the writer.
 */
import { randomBytes } from 'node:crypto';
import { appendFile, copyFile } from 'node:fs/promises';
import { packImage } from '../../electron/kernel/image/packImage.ts';
import type { MinisignSecretKey } from '../../electron/kernel/signing/minisignFormat.ts';

export async function makeBigTestImage(rawImage: string, out: string, key: MinisignSecretKey, extraMiB = 64): Promise<void> {
  const raw = `${out}.raw`;
  await copyFile(rawImage, raw);
  for (let i = 0; i < extraMiB; i++) await appendFile(raw, randomBytes(1 << 20));
  await packImage(raw, out, { product: 'demo-os', version: '1.2.0-big', sequence: 8, boards: ['pi4'], expiresDays: 30, key });
}
