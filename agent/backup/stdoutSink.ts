/**
 * stdout as a tar sink: each chunk resolves once written, so a slow reader (ssh, restic)
 * holds the device back instead of its memory filling. When the reader goes away (EPIPE:
 * the laptop's ssh died, `head -c` closed), the next write fails with an error that says the
 * stream is not a backup, and the command exits 1.
 */
import type { Writable } from 'node:stream';
import type { TarSink } from './tarWriter.ts';

function closedError(cause: Error): Error {
  return Object.assign(new Error(`The reader of the backup stream went away before its end (${cause.message}): what was sent is not a backup.`), {
    hint: 'Run the backup again from the laptop; check the link if it keeps breaking.',
  });
}

export function stdoutSink(out: Writable): { sink: TarSink } {
  let broken: Error | null = null;
  out.on('error', (error: Error) => {
    broken ??= closedError(error);
  });
  const sink: TarSink = (chunk) =>
    new Promise<void>((resolve, reject) => {
      if (broken !== null) {
        reject(broken);
        return;
      }
      out.write(chunk, (error) => {
        if (error) reject(broken ?? closedError(error));
        else resolve();
      });
    });
  return { sink };
}
