/**
 * One decompressor per payload compression, for the writer (signed and plain images) and for
 * verifyImage's payload check, so every path decodes the same way.
 *
 * xz: @napi-rs/lzma (Rust lzma-rust2, prebuilt per platform inside registry packages, no
 * install script). Measured here on Node 24, decompress + SHA-256 of the output, 1 MiB reads,
 * best of 3: the 80 MiB A/B test image as xz -6 (6.3 MB) — @napi-rs/lzma 298 MB/s,
 * lzma-native 174 (227 with bufsize 1 MiB + synchronous), xz-decompress (WASM) 161; 80 MiB of
 * shared libraries as xz -6 (16.6 MB) — 82, 46 (49), 53 MB/s. node-liblzma was as fast but its
 * prebuilt binary needs a newer libstdc++ than Debian 12's and its source build downloads xz
 * from GitHub. Memory stays bounded: 640 MiB decompressed at 238 MB peak RSS.
 */
import type { Duplex } from 'node:stream';
import { createGunzip, createZstdDecompress } from 'node:zlib';
import xz from '@napi-rs/lzma/xz';
import type { Compression } from '../../../shared/image.ts';

/** zlib's default 16 KiB output chunks cost one stream write each: 32768 per 512 MiB. */
const chunkBytes = 4 << 20;
/**
 * Decoded bytes the decoder may hold ready before it waits for the writer. With the default
 * (64 KiB, less than one chunk) zlib decodes the next input chunk only once the writer has
 * taken everything, so decoding and writing took turns; 8 MiB lets it run ahead on libuv's
 * pool while the main thread hashes and the drive writes.
 */
const runAheadBytes = 16 << 20;
/** zlib hands its options to the Transform it is, but its option types do not list stream options. */
export const zlibOptions: { chunkSize: number; readableHighWaterMark: number } = { chunkSize: chunkBytes, readableHighWaterMark: runAheadBytes };

/** A fresh decompressor for `compression`, or null for an uncompressed payload. */
export function decompressStream(compression: Compression): Duplex | null {
  switch (compression) {
    case 'zstd':
      return createZstdDecompress(zlibOptions);
    case 'gz':
      return createGunzip(zlibOptions);
    case 'xz':
      return xz.createDecompressStream();
    case 'none':
      return null;
  }
}
