/**
 * A filter for the agent's output in tests (`fieldkit-agent rpc | node corruptBatchLines.ts`):
 * passes every frame through, except that a journal.read item sent as canonical lines has
 * one digit of its lines changed (decompressed first when it came zstd-compressed) and is
 * re-framed with a valid CRC: the frame looks intact, only the records are wrong, which the
 * laptop must notice from the batch's SHA-256 on its own.
 */
import { zstdDecompressSync } from 'node:zlib';
import { createFrameDecoder, encodeFrame } from '../../shared/rpcFrame.ts';

function corrupted(message: unknown): unknown {
  const item = (message as { item?: { lines?: unknown } } | null)?.item;
  if (typeof item?.lines !== 'string') return message;
  const at = item.lines.search(/[0-9]/);
  if (at < 0) return message;
  const digit = item.lines.charAt(at) === '1' ? '2' : '1';
  return { ...(message as object), item: { ...item, lines: item.lines.slice(0, at) + digit + item.lines.slice(at + 1) } };
}

const decoder = createFrameDecoder();
process.stdin.on('data', (chunk: Buffer) => {
  for (const item of decoder.push(chunk)) {
    if (item.kind === 'message') process.stdout.write(encodeFrame(corrupted(item.message)));
    else if (item.kind === 'compressed') process.stdout.write(encodeFrame(corrupted(JSON.parse(zstdDecompressSync(item.data).toString('utf8')) as unknown)));
  }
});
process.stdin.on('end', () => {
  process.stdout.end();
});
