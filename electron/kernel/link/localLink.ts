/**
 * The local link: commands run as child processes on this computer. It carries the demo
 * site (real agents on the laptop, no hardware) and tests through the same interface as
 * SSH and serial.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { rename, rm, stat } from 'node:fs/promises';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { appError, FieldkitError } from '../../../shared/errors.ts';
import type { ExecOptions, ExecResult, Link, LinkStream, UploadOptions } from './linkApi.ts';

const stderrTailBytes = 8192;

export function createLocalLink(options: { env?: Record<string, string>; cwd?: string } = {}): Link {
  const env = { ...process.env, ...options.env };
  function run(command: string) {
    return spawn('/bin/sh', ['-c', command], { env, cwd: options.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
  }
  const link: Link = {
    kind: 'local',
    describe: 'local',
    exec(command: string, execOptions: ExecOptions = {}): Promise<ExecResult> {
      const child = run(command);
      const stdout: Buffer[] = [];
      const stderr: Buffer[] = [];
      child.stdout.on('data', (c: Buffer) => stdout.push(c));
      child.stderr.on('data', (c: Buffer) => stderr.push(c));
      child.stdin.on('error', () => undefined); // a command that ignores stdin may close it early
      child.stdin.end(execOptions.stdin ?? undefined);
      return new Promise((resolve, reject) => {
        const timer = execOptions.timeoutMs
          ? setTimeout(() => {
              child.kill('SIGKILL');
              reject(new FieldkitError(appError('TIMEOUT', `\`${command}\` did not finish in ${execOptions.timeoutMs ?? 0} ms.`, 'Check what the command waits for, then try again.')));
            }, execOptions.timeoutMs)
          : null;
        const onAbort = () => {
          child.kill('SIGTERM');
          reject(new FieldkitError(appError('CANCELLED', `\`${command}\` was cancelled.`, 'Run it again when ready.')));
        };
        execOptions.signal?.addEventListener('abort', onAbort, { once: true });
        child.on('error', reject);
        child.on('close', (code, signal) => {
          if (timer) clearTimeout(timer);
          execOptions.signal?.removeEventListener('abort', onAbort);
          resolve({ code, signal, stdout: Buffer.concat(stdout), stderr: Buffer.concat(stderr) });
        });
      });
    },
    openStream(command: string): Promise<LinkStream> {
      const child = run(command);
      let tail = '';
      child.stderr.on('data', (c: Buffer) => {
        tail = (tail + c.toString('utf8')).slice(-stderrTailBytes);
      });
      child.stdin.on('error', () => undefined);
      const exit = new Promise<{ code: number | null; signal: string | null }>((resolve) => {
        child.on('close', (code, signal) => {
          resolve({ code, signal });
        });
      });
      return Promise.resolve({
        readable: child.stdout,
        writable: child.stdin,
        stderrTail: () => tail,
        exit,
        close: () => {
          child.stdin.end();
          child.kill('SIGTERM');
        },
      });
    },
    async upload(localPath: string, remotePath: string, uploadOptions: UploadOptions = {}) {
      const { size } = await stat(localPath);
      const part = `${remotePath}.fieldkit-part`;
      const hash = createHash('sha256');
      let done = 0;
      const meter = new Transform({
        transform(chunk: Buffer, _encoding, callback) {
          hash.update(chunk);
          done += chunk.length;
          uploadOptions.onProgress?.(done, size);
          callback(null, chunk);
        },
      });
      try {
        await pipeline(createReadStream(localPath), meter, createWriteStream(part, { mode: uploadOptions.mode ?? 0o644 }), {
          ...(uploadOptions.signal ? { signal: uploadOptions.signal } : {}),
        });
        const written = createHash('sha256');
        for await (const chunk of createReadStream(part)) written.update(chunk as Buffer);
        const expected = hash.digest('hex');
        if (written.digest('hex') !== expected) {
          throw new FieldkitError(appError('IO_ERROR', `The copy at ${remotePath} does not match its source.`, 'Check the disk, then try again.'));
        }
        await rename(part, remotePath);
        return { sha256: expected, bytes: size };
      } catch (error) {
        await rm(part, { force: true });
        throw error;
      }
    },
    close: () => Promise.resolve(),
  };
  return link;
}
