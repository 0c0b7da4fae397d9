/**
 * The serial console link (serialport): a USB serial adapter, the Pi's UART, or a
 * USB-gadget serial port. Slow (115200 baud is ~11 kB/s), so it moves small things:
 * commands, config, the RPC; files go in checksummed chunks with retries.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { PassThrough, Writable } from 'node:stream';
import { SerialPort } from 'serialport';
import { appError, FieldkitError } from '../../../shared/errors.ts';
import type { ExecOptions, ExecResult, Link, LinkStream, UploadOptions } from './linkApi.ts';
import { shellQuote } from './shellQuote.ts';
import { openSerialConsole, type ConsoleCredentials, type ConsolePort, type SerialConsole } from './serialConsole.ts';

/** Raw bytes per upload chunk: its base64 fits one console line with room to spare. */
const chunkBytes = 2048;
const chunkRetries = 3;

export type SerialTarget = { path: string; baudRate?: number };

export async function connectSerial(options: { target: SerialTarget; credentials: ConsoleCredentials | null; timeoutMs?: number }): Promise<Link> {
  const { path } = options.target;
  const port = new SerialPort({ path, baudRate: options.target.baudRate ?? 115200, autoOpen: false });
  await new Promise<void>((resolve, reject) => {
    port.open((error) => {
      if (!error) {
        resolve();
        return;
      }
      const denied = /permission|EACCES/i.test(error.message);
      reject(
        new FieldkitError(
          appError(
            denied ? 'PERMISSION_DENIED' : 'UNAVAILABLE',
            `Cannot open ${path}: ${error.message}`,
            denied ? 'Add your user to the dialout group (Linux) and log in again.' : 'Check the cable is plugged in and no other program (screen, minicom) holds the port.',
          ),
          { cause: error },
        ),
      );
    });
  });
  const consolePort: ConsolePort = {
    describe: path,
    write: (data) => {
      port.write(data);
    },
    onData: (listener) => {
      port.on('data', listener);
      return () => {
        port.off('data', listener);
      };
    },
  };
  let shell: SerialConsole;
  try {
    shell = await openSerialConsole(consolePort, options.credentials, options.timeoutMs);
  } catch (error) {
    port.close();
    throw error;
  }
  return createSerialLink(shell, () => new Promise<void>((resolve) => {
    // Let the logout reach the device before the port goes.
    port.drain(() => {
      port.close(() => {
        resolve();
      });
    });
  }));
}

/** The Link over an open console (separate from the port so it can be tested on any pipe). */
export function createSerialLink(shell: SerialConsole, closePort: () => Promise<void>): Link {
  const describe = shell.port.describe;

  async function exec(command: string, options: ExecOptions = {}): Promise<ExecResult> {
    let line = command;
    if (options.stdin !== undefined) {
      const b64 = Buffer.from(options.stdin).toString('base64');
      if (b64.length <= 2400) line = `printf %s ${shellQuote(b64)} | base64 -d | ( ${command} )`;
      else {
        const file = `/tmp/.fieldkit-in-${createHash('sha256').update(b64).digest('hex').slice(0, 12)}`;
        await shell.run(`: > ${file}`);
        for (let i = 0; i < b64.length; i += 2400) await shell.run(`printf %s ${shellQuote(b64.slice(i, i + 2400))} >> ${file}`);
        line = `base64 -d ${file} | { ${command} ; }; fk_in_rc=$?; rm -f ${file}; (exit $fk_in_rc)`;
      }
    }
    const run = shell.run(line, options.timeoutMs ?? 60_000);
    const result = await (options.signal ? Promise.race([run, aborted(options.signal, command)]) : run);
    return { code: result.code, signal: null, stdout: Buffer.from(result.stdout, 'utf8'), stderr: Buffer.from(result.stderr, 'utf8') };
  }

  async function openStream(command: string): Promise<LinkStream> {
    const readable = new PassThrough();
    let detach: (() => void) | null = null;
    const session = await shell.takeOver(command);
    detach = shell.port.onData((chunk) => readable.write(chunk));
    const writable = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        shell.port.write(chunk);
        callback();
      },
    });
    const exit = session.exit.then((code) => {
      detach?.();
      readable.end();
      session.release();
      return { code, signal: null };
    });
    return {
      readable,
      writable,
      stderrTail: () => '',
      exit,
      close: () => {
        // The remote command owns the line until it exits; it must be told to stop by its
        // own protocol (the agent RPC ends on a shutdown message).
        detach?.();
        detach = null;
        readable.end();
      },
    };
  }

  return {
    kind: 'serial',
    describe,
    exec,
    upload: (localPath, remotePath, options) => uploadOverConsole(shell, localPath, remotePath, options),
    openStream,
    close: async () => {
      shell.close();
      await closePort();
    },
  };
}

/**
 * Uploads over the console in base64 chunks, each checked by its SHA-256 on the device and
 * retried; the whole file is checked before it takes its final name.
 */
async function uploadOverConsole(shell: SerialConsole, localPath: string, remotePath: string, options: UploadOptions = {}): Promise<{ sha256: string; bytes: number }> {
  const describe = shell.port.describe;
  const mustRun = async (command: string): Promise<void> => {
    const result = await shell.run(command);
    if (result.code !== 0) {
      throw new FieldkitError(appError('IO_ERROR', `\`${command.slice(0, 60)}\` failed on ${describe}: ${result.stderr.trim()}`, 'Check free space and permissions on the device.'));
    }
  };
  const data = await readFile(localPath);
  const part = `${remotePath}.fieldkit-part`;
  await mustRun(`: > ${shellQuote(part)}`);
  for (let offset = 0; offset < data.length; offset += chunkBytes) {
    if (options.signal?.aborted) {
      await shell.run(`rm -f ${shellQuote(part)}`);
      throw new FieldkitError(appError('CANCELLED', `Upload to ${describe}:${remotePath} was cancelled.`, 'Start it again when ready.'));
    }
    const chunk = data.subarray(offset, offset + chunkBytes);
    const want = createHash('sha256').update(chunk).digest('hex');
    let ok = false;
    for (let attempt = 0; attempt < chunkRetries && !ok; attempt++) {
      // Cut back to the chunk's start first: a failed attempt may have appended garbage.
      const result = await shell.run(
        `truncate -s ${offset} ${shellQuote(part)} && printf %s ${shellQuote(chunk.toString('base64'))} | base64 -d | tee -a ${shellQuote(part)} | sha256sum`,
      );
      ok = result.code === 0 && result.stdout.startsWith(want);
    }
    if (!ok) {
      await shell.run(`rm -f ${shellQuote(part)}`);
      throw new FieldkitError(
        appError('IO_ERROR', `Upload to ${describe}:${remotePath} failed at byte ${offset} after ${chunkRetries} tries.`, 'The serial line is too noisy: check the cable and ground, or use the network.'),
      );
    }
    options.onProgress?.(Math.min(offset + chunkBytes, data.length), data.length);
  }
  const expected = createHash('sha256').update(data).digest('hex');
  const check = await shell.run(`sha256sum ${shellQuote(part)}`);
  if (!check.stdout.startsWith(expected)) {
    await shell.run(`rm -f ${shellQuote(part)}`);
    throw new FieldkitError(appError('IO_ERROR', `The upload to ${describe}:${remotePath} arrived damaged; it was removed.`, 'Try again.'));
  }
  const mode = (options.mode ?? 0o644).toString(8);
  await mustRun(`chmod ${mode} ${shellQuote(part)} && mv -f ${shellQuote(part)} ${shellQuote(remotePath)}`);
  return { sha256: expected, bytes: data.length };
}

function aborted(signal: AbortSignal, command: string): Promise<never> {
  return new Promise((_resolve, reject) => {
    const fail = () => {
      reject(new FieldkitError(appError('CANCELLED', `\`${command.slice(0, 60)}\` was cancelled.`, 'The command may still be running on the device.')));
    };
    if (signal.aborted) fail();
    else signal.addEventListener('abort', fail, { once: true });
  });
}
