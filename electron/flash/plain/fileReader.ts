/** Positioned reads of an image file for header walks (the xz index, zstd frames). */
import { closeSync, openSync, readSync } from 'node:fs';

/** Positioned reads of a file for header walks; short reads come back short. */
export class FileReader {
  readonly fd: number;
  constructor(file: string) {
    this.fd = openSync(file, 'r');
  }
  at(position: number, length: number): Buffer {
    const bytes = Buffer.alloc(length);
    const n = readSync(this.fd, bytes, 0, length, position);
    return bytes.subarray(0, n);
  }
  close(): void {
    closeSync(this.fd);
  }
}
