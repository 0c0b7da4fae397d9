/**
 * Byte-addressed access to a disk, an image file or a buffer, so the FAT code works the
 * same on a card, a file copy and an in-memory image. Offsets are absolute (the volume
 * adds its partition offset).
 */
import { constants } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';
import { appError, FieldkitError } from '../../../shared/errors.ts';

export type BlockIo = {
  read(offset: number, length: number): Promise<Buffer>;
  write(offset: number, data: Buffer): Promise<void>;
};

/** A BlockIo over a Buffer (tests, and images held in memory). */
export function memoryBlockIo(bytes: Buffer): BlockIo {
  return {
    read: (offset, length) => {
      if (offset < 0 || offset + length > bytes.length) return Promise.reject(new RangeError(`read past the end of the image (${offset}+${length} > ${bytes.length})`));
      return Promise.resolve(Buffer.from(bytes.subarray(offset, offset + length)));
    },
    write: (offset, data) => {
      if (offset < 0 || offset + data.length > bytes.length) return Promise.reject(new RangeError(`write past the end of the image (${offset}+${data.length} > ${bytes.length})`));
      data.copy(bytes, offset);
      return Promise.resolve();
    },
  };
}

/** A BlockIo over an open file handle; short reads are an error (a FAT volume never ends early). */
export function handleBlockIo(handle: FileHandle, name: string): BlockIo {
  return {
    async read(offset, length) {
      const buffer = Buffer.alloc(length);
      let done = 0;
      while (done < length) {
        const { bytesRead } = await handle.read(buffer, done, length - done, offset + done);
        if (bytesRead === 0) throw new FieldkitError(appError('IO_ERROR', `${name} ended at byte ${offset + done}, inside the filesystem.`, 'The drive or image is truncated; flash it again.'));
        done += bytesRead;
      }
      return buffer;
    },
    async write(offset, data) {
      let done = 0;
      while (done < data.length) done += (await handle.write(data, done, data.length - done, offset + done)).bytesWritten;
    },
  };
}

export type OpenedDevice = { io: BlockIo; handle: FileHandle; isBlockDevice: boolean };

/**
 * Opens a drive or image file. A block device opened for writing gets O_EXCL: the kernel
 * refuses it (EBUSY) while any of its partitions is mounted, so we never write under a
 * mounted filesystem's cache.
 */
export async function openDevice(device: string, mode: 'read' | 'write'): Promise<OpenedDevice> {
  try {
    const isBlockDevice = (await stat(device)).isBlockDevice();
    const flags = mode === 'read' ? constants.O_RDONLY : constants.O_RDWR | (isBlockDevice ? constants.O_EXCL : 0);
    const handle = await open(device, flags);
    return { io: handleBlockIo(handle, device), handle, isBlockDevice };
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code ?? 'EIO';
    if (code === 'EBUSY') throw new FieldkitError(appError('CONFLICT', `${device} is in use (a partition is mounted or another program holds it).`, 'Unmount every partition of the drive (the desktop may have mounted it after the write), then try again.'), { cause });
    if (code === 'ENOENT') throw new FieldkitError(appError('NOT_FOUND', `${device} does not exist.`, 'Check that the drive is still connected (or the image path), then try again.'), { cause });
    if (code === 'EACCES' || code === 'EPERM') throw new FieldkitError(appError('PERMISSION_DENIED', `No permission to ${mode} ${device}: ${code}.`, 'Writing the boot partition needs administrator rights; run the flash again and allow it.'), { cause });
    throw new FieldkitError(appError('IO_ERROR', `Cannot open ${device}: ${(cause as Error).message}.`, 'Check that the drive is still connected, then try again.'), { cause });
  }
}
