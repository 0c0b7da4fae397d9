/**
 * The stored payload of a signed image hashed against its signed SHA-256 before a drive is
 * opened: a tampered or damaged image is refused while the card is untouched, instead of
 * being caught megabytes into the write. One read pass; the payload is on the laptop's own
 * disk, so the write that follows reads it again from the page cache. The writer's streaming
 * checks stay (the file could change between the two reads).
 */
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import path from 'node:path';
import type { UstarMember } from '../kernel/signing/ustarArchive.ts';
import { Cancelled, ImageReadError, refuse } from './writer/writerErrors.ts';

const chunkBytes = 4 << 20;

export type PrecheckOptions = { signal?: AbortSignal; onProgress?: (bytesDone: number, bytesTotal: number) => void };

/**
 * Resolves when the bytes of `member` in `file` hash to `sha256`; throws a FieldkitError
 * (VERIFICATION_FAILED "was altered", or IO_ERROR) otherwise, Cancelled on abort. The next
 * read runs while this chunk is hashed.
 */
export async function precheckPayload(file: string, member: UstarMember, sha256: string, options: PrecheckOptions = {}): Promise<void> {
  const name = path.basename(file);
  const handle = await open(file, 'r').catch((cause: unknown) => {
    throw refuse(`${name} cannot be read: ${(cause as Error).message}.`, 'Check the disk the image is on, or copy it again.', 'IO_ERROR');
  });
  const hash = createHash('sha256');
  const buffers = [Buffer.allocUnsafe(chunkBytes), Buffer.allocUnsafe(chunkBytes)];
  const readAt = async (at: number, buffer: Buffer): Promise<Buffer> => {
    const want = Math.min(chunkBytes, member.size - at);
    let got = 0;
    while (got < want) {
      const { bytesRead } = await handle.read(buffer, got, want - got, member.offset + at + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    return buffer.subarray(0, got);
  };
  try {
    let next: Promise<Buffer> | null = member.size > 0 ? readAt(0, buffers[0] as Buffer) : null;
    for (let at = 0, turn = 0; next !== null; turn++) {
      const bytes = await next.catch((cause: unknown) => {
        throw new ImageReadError((cause as Error).message);
      });
      next = null;
      if (bytes.length === 0) break;
      const after = at + bytes.length;
      if (after < member.size && bytes.length === chunkBytes) {
        next = readAt(after, buffers[(turn + 1) % 2] as Buffer);
        next.catch(() => undefined);
      }
      if (options.signal?.aborted === true) throw new Cancelled();
      hash.update(bytes);
      at = after;
      options.onProgress?.(at, member.size);
      if (next === null && at < member.size) throw refuse(`${name} is shorter than its disk image member: truncated.`, 'Copy or download the image again.', 'VERIFICATION_FAILED');
    }
  } catch (error) {
    if (error instanceof ImageReadError) throw refuse(`${name} cannot be read: ${error.message}.`, 'Check the disk the image is on, or copy it again.', 'IO_ERROR');
    throw error;
  } finally {
    await handle.close().catch(() => undefined);
  }
  const found = hash.digest('hex');
  if (found !== sha256) {
    throw refuse(
      `${name}'s disk image was altered: its SHA-256 is ${found}, the signed manifest says ${sha256}. Nothing was written.`,
      'Do not use this image; get it again from its publisher.',
      'VERIFICATION_FAILED',
    );
  }
}
