/**
 * The private channel between a flash job's worker (the technician's rights) and the flash
 * helper (administrator rights, which raw writes need). The worker makes a fresh 0700
 * folder, listens on a Unix socket in it (a named pipe on Windows), writes a random 32-byte
 * token into a 0600 file beside it and starts the helper — directly when it already runs as
 * root, else through the OS's administrator prompt (elevation/). The helper reads and
 * deletes the token file, connects, and must present the token first; anything else is cut
 * off. Messages (helperMessages.ts) are newline-delimited JSON, validated with zod on both
 * sides. Both sides keep a heartbeat (heartbeat.ts): the helper aborts its writes (the drives
 * end "incomplete") and exits when the worker goes away or falls silent, so no elevated
 * process outlives the app.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdtemp, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { appError, FieldkitError } from '../../shared/errors.ts';
import { elevationFor, elevationRefused, helperCommand, type Elevation } from './elevation/elevation.ts';
import { openChannelEnd, type ChannelEnd } from './heartbeat.ts';
import { HelperToWorkerSchema, readMessages, writeMessage, WorkerToHelperSchema, type HelperToWorker, type WorkerToHelper } from './helperMessages.ts';

const tokenFileName = 'token';

/** Where the socket of a channel folder is: inside it, or a named pipe named after it on Windows. */
export function channelSocketPath(channelDir: string): string {
  return process.platform === 'win32' ? `\\\\.\\pipe\\fieldkit-flash-${path.basename(channelDir)}` : path.join(channelDir, 'helper.sock');
}

/** How to start the helper program: the .ts source under Node, the bundled .js beside the worker when built. */
export function defaultHelperScript(): string {
  const self = fileURLToPath(import.meta.url);
  return self.endsWith('.ts') ? fileURLToPath(new URL('./flashHelper.ts', import.meta.url)) : fileURLToPath(new URL('./flashHelper.js', import.meta.url));
}

export type HelperConnection = {
  send(message: WorkerToHelper): void;
  /** Every message after the hello. */
  onMessage(listener: (message: HelperToWorker) => void): void;
  /** Called once when the helper disconnects or falls silent, with why. */
  onLost(listener: (why: string) => void): void;
  /** The helper's pid, as it said in its hello. */
  pid: number;
  /** Closes the channel (the helper exits) and removes the channel folder. */
  close(): Promise<void>;
};

export type StartHelperOptions = {
  signal?: AbortSignal;
  /** How long to wait for the helper to connect (an administrator prompt waits on a human). */
  connectTimeoutMs?: number;
  script?: string;
  execPath?: string;
  elevation?: Elevation;
  /** TEST ONLY: called with the channel folder and token once listening, before the helper is started. */
  onListening?: (channel: { dir: string; socketPath: string; token: string }) => void;
};

/**
 * Starts the flash helper with the rights it needs and resolves once it connected with the
 * right token. Nothing is written before this resolves.
 */
export async function startFlashHelper(options: StartHelperOptions = {}): Promise<HelperConnection> {
  const elevation = options.elevation ?? elevationFor();
  const dir = await mkdtemp(path.join(tmpdir(), 'fieldkit-flash-'));
  const socketPath = channelSocketPath(dir);
  const token = randomBytes(32).toString('hex');
  const server = createServer();
  const started: { child: ChildProcess | null } = { child: null };
  const cleanup = async (): Promise<void> => {
    server.close();
    await rm(dir, { recursive: true, force: true }).catch(() => undefined);
  };
  try {
    await writeFile(path.join(dir, tokenFileName), token, { mode: 0o600 });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socketPath, () => {
        server.off('error', reject);
        resolve();
      });
    });
    options.onListening?.({ dir, socketPath, token });
    const hello = await helloFromHelper(server, token, elevation, options, () => {
      const { command, args } = helperCommand(elevation, options.execPath ?? process.execPath, options.script ?? defaultHelperScript(), dir);
      started.child = spawn(command, args, { stdio: ['ignore', 'inherit', 'inherit'], windowsHide: true });
      return started.child;
    });
    return connectionOver(hello.socket, hello.pid, hello.route, cleanup);
  } catch (error) {
    started.child?.kill('SIGKILL');
    await cleanup();
    throw error;
  }
}

/** Where the messages after the hello go: the connection's handlers, once it exists. */
type Route = { message: ((message: HelperToWorker) => void) | null; bad: ((why: string) => void) | null };

/**
 * Starts the helper (`spawnHelper`) and waits for a connection that says hello with `token`
 * first; a connection saying anything else is cut off. Rejects when the prompt is refused,
 * the helper exits or does not connect in time, or the flash is cancelled.
 */
function helloFromHelper(server: Server, token: string, elevation: Elevation, options: StartHelperOptions, spawnHelper: () => ChildProcess): Promise<{ socket: Socket; pid: number; route: Route }> {
  return new Promise((resolve, reject) => {
    const timeoutMs = options.connectTimeoutMs ?? (elevation === 'none' ? 15_000 : 180_000);
    const timer = setTimeout(() => {
      reject(elevationRefused(elevation, `it did not connect within ${Math.round(timeoutMs / 1000)} s`));
    }, timeoutMs);
    const onAbort = (): void => {
      reject(new FieldkitError(appError('CANCELLED', 'The flash was cancelled before it began; nothing was written.', 'Start it again when ready.')));
    };
    options.signal?.addEventListener('abort', onAbort, { once: true });
    const settle = (): void => {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
    };
    server.on('connection', (candidate: Socket) => {
      // The hello must come first and soon; anything else is cut off.
      const helloTimer = setTimeout(() => candidate.destroy(), 5000);
      const route: Route = { message: null, bad: null };
      let said = false;
      readMessages(
        candidate,
        HelperToWorkerSchema,
        (message) => {
          if (said) {
            route.message?.(message);
            return;
          }
          said = true;
          clearTimeout(helloTimer);
          if (message.type !== 'hello' || !tokensEqual(message.token, token)) {
            candidate.destroy();
            return;
          }
          settle();
          // One helper per channel: nobody else may connect once it is in.
          server.close();
          resolve({ socket: candidate, pid: message.pid, route });
        },
        (why) => {
          if (route.bad === null) candidate.destroy();
          else route.bad(why);
        },
      );
    });
    const child = spawnHelper();
    child.on('error', (error) => {
      settle();
      reject(elevationRefused(elevation, error.message));
    });
    child.on('exit', (code, signal) => {
      // pkexec/osascript/UAC launchers exit at once on success for UAC only; a helper (or pkexec)
      // that exits before connecting was refused or broke.
      if (elevation === 'uac' && code === 0) return;
      settle();
      const why = code === 126 || code === 127 ? 'the prompt was dismissed or not authorised' : signal !== null ? `it was killed by ${signal}` : `it exited with code ${String(code)}`;
      reject(elevationRefused(elevation, why));
    });
  });
}

function tokensEqual(given: string, expected: string): boolean {
  const a = Buffer.from(given, 'utf8');
  const b = Buffer.from(expected, 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Heartbeats and message plumbing over an accepted, authenticated helper socket. */
function connectionOver(socket: Socket, pid: number, route: Route, cleanup: () => Promise<void>): HelperConnection {
  const end: ChannelEnd<HelperToWorker> = openChannelEnd(socket, {
    silent: `the flash helper (pid ${pid}) stopped answering`,
    sent: (why) => `the flash helper sent ${why}`,
    away: `the flash helper (pid ${pid}) went away`,
  });
  route.message = end.deliver;
  route.bad = end.bad;
  return {
    pid,
    send: end.send,
    onMessage: end.onMessage,
    onLost: end.onLost,
    async close() {
      end.close();
      await cleanup();
    },
  };
}

export type WorkerLink = {
  send(message: HelperToWorker): void;
  onMessage(listener: (message: WorkerToHelper) => void): void;
  /** Called once when the worker disconnects, falls silent, or misbehaves. */
  onGone(listener: (why: string) => void): void;
  close(): void;
};

/** The helper's side: read and delete the token, connect, say hello, keep the heartbeat. */
export async function connectToWorker(channelDir: string): Promise<WorkerLink> {
  const tokenFile = path.join(channelDir, tokenFileName);
  const token = (await readFile(tokenFile, 'utf8')).trim();
  // One use only: a second helper (or anyone else) cannot present it again.
  await unlink(tokenFile).catch(() => undefined);
  const socket = await new Promise<Socket>((resolve, reject) => {
    const s = createConnection(channelSocketPath(channelDir), () => {
      s.off('error', reject);
      resolve(s);
    });
    s.once('error', reject);
  });
  writeMessage(socket, { type: 'hello', token, pid: process.pid });
  const end: ChannelEnd<WorkerToHelper> = openChannelEnd(socket, {
    silent: 'the fieldkit job stopped sending heartbeats',
    sent: (why) => `the fieldkit job sent ${why}`,
    away: 'the fieldkit job went away',
  });
  readMessages(socket, WorkerToHelperSchema, end.deliver, end.bad);
  return { send: end.send, onMessage: end.onMessage, onGone: end.onLost, close: end.close };
}
