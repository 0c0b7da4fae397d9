/**
 * Runs a tool such as vcgencmd or nvme with a deadline and no shell. A seam so tests can
 * point at the fixture scripts by path (the config does) without touching PATH.
 */
import { execFile } from 'node:child_process';

export type RunCommand = (file: string, args: readonly string[], options: { timeoutMs: number }) => Promise<string>;

/** Resolves with stdout; rejects when the tool is missing, fails, or outlives the deadline. */
export function runCommand(file: string, args: readonly string[], options: { timeoutMs: number }): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout: options.timeoutMs, maxBuffer: 256 * 1024, encoding: 'utf8', killSignal: 'SIGKILL' }, (error, stdout) => {
      // The Omit<> in Node's typing hides that this is an Error; keep it (and its code, ENOENT).
      if (error) reject(error instanceof Error ? error : new Error(`${file} failed`));
      else resolve(stdout);
    });
  });
}
