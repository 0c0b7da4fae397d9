/**
 * The private channel between a flash job's worker (the technician's rights) and the flash
 * helper (administrator rights, which raw writes need). The worker makes a fresh 0700
 * folder, listens on a Unix socket in it (a named pipe on Windows), writes a random 32-byte
 * token into a 0600 file beside it and starts the helper — directly when it already runs as
 * root, else through pkexec, the macOS administrator prompt, or UAC. The helper reads and
 * deletes the token file, connects, and must present the token first; anything else is cut
 * off. Messages are newline-delimited JSON, validated with zod on both sides. Both sides send
 * a heartbeat every second: the helper aborts its writes (the drives end "incomplete") and
 * exits when the worker goes away or falls silent, so no elevated process outlives the app.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdtemp, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { createConnection, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { appError, AppErrorSchema, FieldkitError } from '../../shared/errors.ts';
import { FlashIdentitySchema, FlashTargetResultSchema, FlashTargetStateSchema } from '../../shared/flash.ts';

export const heartbeatIntervalMs = 1000;
/** Silence longer than this means the other side is gone (two and a half missed beats). */
export const heartbeatTimeoutMs = 2500;
/** How often silence is checked: finer than the beat, so "gone" is noticed within 2.75 s. */
const silenceCheckMs = 250;

/**
 * Sends a heartbeat every second and calls `onSilence` once the other side has said nothing
 * for heartbeatTimeoutMs. Returns `heard` (call on every message) and `stop`.
 */
function keepHeartbeat(beat: () => void, onSilence: () => void): { heard(): void; stop(): void } {
  let lastHeard = Date.now();
  let lastSent = 0;
  const timer = setInterval(() => {
    const now = Date.now();
    if (now - lastHeard > heartbeatTimeoutMs) {
      clearInterval(timer);
      onSilence();
      return;
    }
    if (now - lastSent >= heartbeatIntervalMs) {
      lastSent = now;
      beat();
    }
  }, silenceCheckMs);
  lastSent = Date.now();
  beat();
  return {
    heard: () => {
      lastHeard = Date.now();
    },
    stop: () => {
      clearInterval(timer);
    },
  };
}
const maxLineBytes = 1 << 20;
const tokenFileName = 'token';

/** What the worker asks the helper to do: one image onto each target, all at once. */
export const HelperFlashRequestSchema = z.strictObject({
  imagePath: z.string().min(1),
  kind: z.enum(['signed', 'plain']),
  /** Base64 minisign public keys the signed manifest may be signed by (unrevoked trust-store keys). */
  trustedKeys: z.array(z.string()),
  targets: z
    .array(
      z.strictObject({
        /** The drive as the OS names it (unmount, eject). */
        device: z.string().min(1),
        /** The path raw I/O uses (/dev/rdiskN on macOS). */
        raw: z.string().min(1),
        description: z.string(),
        identity: FlashIdentitySchema.optional(),
      }),
    )
    .min(1),
  skipZeroBlocks: z.boolean(),
  /** Signed images: write the free filesystem space too (every byte). */
  writeAll: z.boolean().default(false),
  eject: z.boolean(),
  /** fieldkit's own SSH key line, authorised on every Pi given an identity; null when no target has one. */
  appSshPublicKey: z.string().nullable(),
});
export type HelperFlashRequest = z.infer<typeof HelperFlashRequestSchema>;

export const HelperTargetUpdateSchema = z.object({
  device: z.string(),
  state: FlashTargetStateSchema,
  bytesDone: z.number().nonnegative(),
  bytesTotal: z.number().nonnegative().nullable(),
});
export type HelperTargetUpdate = z.infer<typeof HelperTargetUpdateSchema>;

const HelloSchema = z.strictObject({ type: z.literal('hello'), token: z.string().regex(/^[0-9a-f]{64}$/), pid: z.number().int() });

export const WorkerToHelperSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('heartbeat') }),
  z.strictObject({ type: z.literal('flash'), request: HelperFlashRequestSchema }),
  z.strictObject({ type: z.literal('cancel'), reason: z.string() }),
]);
export type WorkerToHelper = z.infer<typeof WorkerToHelperSchema>;

export const HelperToWorkerSchema = z.discriminatedUnion('type', [
  HelloSchema,
  z.strictObject({ type: z.literal('heartbeat') }),
  z.strictObject({ type: z.literal('target'), update: HelperTargetUpdateSchema }),
  z.strictObject({ type: z.literal('result'), result: FlashTargetResultSchema }),
  z.strictObject({ type: z.literal('log'), level: z.enum(['info', 'warn', 'error']), message: z.string() }),
  /** Every target has its result; the helper exits next. */
  z.strictObject({ type: z.literal('finished') }),
  /** The request could not be run at all (bad request); no drive was touched. */
  z.strictObject({ type: z.literal('refused'), error: AppErrorSchema }),
]);
export type HelperToWorker = z.infer<typeof HelperToWorkerSchema>;

/** Where the socket of a channel folder is: inside it, or a named pipe named after it on Windows. */
export function channelSocketPath(channelDir: string): string {
  return process.platform === 'win32' ? `\\\\.\\pipe\\fieldkit-flash-${path.basename(channelDir)}` : path.join(channelDir, 'helper.sock');
}

/**
 * Reads newline-delimited JSON from `socket`, validated by `schema`. A line that is too long,
 * not JSON or not a valid message ends the connection: the other side is broken or hostile.
 */
export function readMessages<T>(socket: Socket, schema: z.ZodType<T>, onMessage: (message: T) => void, onBad: (why: string) => void): void {
  let pending = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    pending += chunk;
    let newline = pending.indexOf('\n');
    while (newline >= 0) {
      const line = pending.slice(0, newline);
      pending = pending.slice(newline + 1);
      newline = pending.indexOf('\n');
      if (line.trim() === '') continue;
      let json: unknown;
      try {
        json = JSON.parse(line);
      } catch {
        onBad('a message that is not JSON');
        return;
      }
      const parsed = schema.safeParse(json);
      if (!parsed.success) {
        onBad(`an invalid message (${parsed.error.issues[0]?.message ?? 'unknown'})`);
        return;
      }
      onMessage(parsed.data);
      if (socket.destroyed) return;
    }
    if (pending.length > maxLineBytes) onBad('a message longer than 1 MiB');
  });
}

export function writeMessage(socket: Socket, message: WorkerToHelper | HelperToWorker): void {
  if (!socket.destroyed && socket.writable) socket.write(JSON.stringify(message) + '\n');
}

/** How to start the helper program: the .ts source under Node, the bundled .js beside the worker when built. */
export function defaultHelperScript(): string {
  const self = fileURLToPath(import.meta.url);
  return self.endsWith('.ts') ? fileURLToPath(new URL('./flashHelper.ts', import.meta.url)) : fileURLToPath(new URL('./flashHelper.js', import.meta.url));
}

/** Single-quotes `arg` for a POSIX shell. */
function shellQuote(arg: string): string {
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

export type Elevation = 'none' | 'pkexec' | 'osascript' | 'uac';

/** How this process can start an administrator helper: not at all needed when it is root already. */
export function elevationFor(platform: NodeJS.Platform = process.platform, uid: number | null = process.getuid?.() ?? null): Elevation {
  if (uid === 0) return 'none';
  if (platform === 'darwin') return 'osascript';
  if (platform === 'win32') return 'uac';
  return 'pkexec';
}

/** The command line that starts the helper with `elevation`. */
export function helperCommand(elevation: Elevation, execPath: string, script: string, channelDir: string): { command: string; args: string[] } {
  // Electron's binary runs as plain Node only with ELECTRON_RUN_AS_NODE; pkexec and the
  // macOS prompt clear the environment, so it goes on the command line.
  const runAsNode = 'electron' in process.versions ? ['ELECTRON_RUN_AS_NODE=1'] : [];
  const program = [execPath, script, '--channel', channelDir];
  switch (elevation) {
    case 'none':
      return { command: execPath, args: [script, '--channel', channelDir] };
    case 'pkexec':
      return { command: 'pkexec', args: ['env', ...runAsNode, ...program] };
    case 'osascript': {
      const shell = ['/usr/bin/env', ...runAsNode, ...program].map(shellQuote).join(' ');
      const apple = shell.replace(/\\/g, '\\\\').replace(/"/g, '\\"');
      return { command: 'osascript', args: ['-e', `do shell script "${apple}" with administrator privileges`] };
    }
    case 'uac': {
      const quoted = (s: string): string => `'${s.replace(/'/g, "''")}'`;
      const argList = [script, '--channel', channelDir].map((a) => quoted(`"${a}"`)).join(',');
      const env = runAsNode.length > 0 ? '$env:ELECTRON_RUN_AS_NODE=1; ' : '';
      return {
        command: 'powershell.exe',
        args: ['-NoProfile', '-NonInteractive', '-Command', `${env}Start-Process -FilePath ${quoted(execPath)} -ArgumentList ${argList} -Verb RunAs -WindowStyle Hidden`],
      };
    }
  }
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

function elevationRefused(elevation: Elevation, detail: string): FieldkitError {
  const how = elevation === 'pkexec' ? 'the administrator password prompt (pkexec)' : elevation === 'osascript' ? 'the macOS administrator prompt' : elevation === 'uac' ? 'the Windows administrator prompt' : 'the flash helper';
  return new FieldkitError(
    appError('PERMISSION_DENIED', `Writing drives needs administrator rights, and ${how} did not start the flash helper: ${detail}.`, 'Start the flash again and allow the administrator prompt; nothing was written.'),
  );
}

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
  let child: ChildProcess | null = null;
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
    const socket = await new Promise<{ socket: Socket; pid: number; route: Route }>((resolve, reject) => {
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
      const { command, args } = helperCommand(elevation, options.execPath ?? process.execPath, options.script ?? defaultHelperScript(), dir);
      child = spawn(command, args, { stdio: ['ignore', 'inherit', 'inherit'], windowsHide: true });
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
    return connectionOver(socket.socket, socket.pid, socket.route, async () => {
      await cleanup();
    });
  } catch (error) {
    (child as ChildProcess | null)?.kill('SIGKILL');
    await cleanup();
    throw error;
  }
}

function tokensEqual(given: string, expected: string): boolean {
  const a = Buffer.from(given, 'utf8');
  const b = Buffer.from(expected, 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Where the messages after the hello go: the connection's handlers, once it exists. */
type Route = { message: ((message: HelperToWorker) => void) | null; bad: ((why: string) => void) | null };

/** Heartbeats and message plumbing over an accepted, authenticated helper socket. */
function connectionOver(socket: Socket, pid: number, route: Route, cleanup: () => Promise<void>): HelperConnection {
  const messageListeners: ((message: HelperToWorker) => void)[] = [];
  const lostListeners: ((why: string) => void)[] = [];
  let lost = false;
  const markLost = (why: string): void => {
    if (lost) return;
    lost = true;
    heartbeat.stop();
    socket.destroy();
    for (const listener of lostListeners) listener(why);
  };
  const heartbeat = keepHeartbeat(
    () => {
      writeMessage(socket, { type: 'heartbeat' });
    },
    () => {
      markLost(`the flash helper (pid ${pid}) stopped answering`);
    },
  );
  route.message = (message) => {
    heartbeat.heard();
    if (message.type === 'heartbeat' || message.type === 'hello') return;
    for (const listener of messageListeners) listener(message);
  };
  route.bad = (why) => {
    markLost(`the flash helper sent ${why}`);
  };
  socket.on('close', () => {
    markLost(`the flash helper (pid ${pid}) went away`);
  });
  socket.on('error', () => undefined);
  return {
    pid,
    send: (message) => {
      writeMessage(socket, message);
    },
    onMessage: (listener) => messageListeners.push(listener),
    onLost: (listener) => lostListeners.push(listener),
    async close() {
      lost = true;
      heartbeat.stop();
      socket.end();
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
  const messageListeners: ((message: WorkerToHelper) => void)[] = [];
  const goneListeners: ((why: string) => void)[] = [];
  let gone = false;
  const markGone = (why: string): void => {
    if (gone) return;
    gone = true;
    heartbeat.stop();
    socket.destroy();
    for (const listener of goneListeners) listener(why);
  };
  const heartbeat = keepHeartbeat(
    () => {
      writeMessage(socket, { type: 'heartbeat' });
    },
    () => {
      markGone('the fieldkit job stopped sending heartbeats');
    },
  );
  readMessages(
    socket,
    WorkerToHelperSchema,
    (message) => {
      heartbeat.heard();
      if (message.type !== 'heartbeat') for (const listener of messageListeners) listener(message);
    },
    (why) => {
      markGone(`the fieldkit job sent ${why}`);
    },
  );
  socket.on('close', () => {
    markGone('the fieldkit job went away');
  });
  socket.on('error', () => undefined);
  return {
    send: (message) => {
      writeMessage(socket, message);
    },
    onMessage: (listener) => messageListeners.push(listener),
    onGone: (listener) => goneListeners.push(listener),
    close() {
      gone = true;
      heartbeat.stop();
      socket.end();
    },
  };
}
