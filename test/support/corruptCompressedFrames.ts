/**
 * A filter for the agent's output in tests (`fieldkit-agent rpc | node corruptCompressedFrames.ts`):
 * passes every frame through, except that each zstd frame (type 3) has one byte of its
 * compressed payload flipped and its CRC recomputed, so the frame itself looks intact and
 * only the compressed content is wrong: what the laptop must refuse on its own.
 */
import { createFrameDecoder, encodeFrame, encodeRawFrame, FrameType } from '../../shared/rpcFrame.ts';

const decoder = createFrameDecoder();
process.stdin.on('data', (chunk: Buffer) => {
  for (const item of decoder.push(chunk)) {
    if (item.kind === 'message') process.stdout.write(encodeFrame(item.message));
    else if (item.kind === 'compressed') {
      const data = Uint8Array.from(item.data);
      const at = Math.floor(data.length / 2);
      data[at] = (data[at] ?? 0) ^ 0xff;
      process.stdout.write(encodeRawFrame(FrameType.zstdJson, data));
    }
  }
});
process.stdin.on('end', () => {
  process.stdout.end();
});
