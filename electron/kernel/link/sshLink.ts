/**
 * The SSH link (ssh2). The device's host key is pinned: first contact shows its SHA-256
 * fingerprint for explicit acceptance; a changed key is refused, never silently
 * re-trusted. Authentication uses fieldkit's own key; a password serves only at first
 * contact, to install that key.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
// ssh2 is CommonJS: Node's ESM loader sees only its default export.
import ssh2, { type AnyAuthMethod, type Client, type ClientChannel, type SFTPWrapper } from 'ssh2';
import { appError, FieldkitError } from '../../../shared/errors.ts';
import type { AppSshKey } from './appSshKey.ts';
import { hostKeyFingerprint } from './hostKeyFingerprint.ts';
import type { ExecOptions, ExecResult, Link, LinkStream, UploadOptions } from './linkApi.ts';
import { shellQuote } from './shellQuote.ts';

export type SshTarget = { host: string; port: number; username: string };

export type HostKeyPolicy = {
  /** The fingerprint pinned for this device, or null at first contact. */
  pinned: string | null;
  /** Asked at first contact; only an explicit yes connects. */
  acceptFirstContact?: (fingerprint: string) => Promise<boolean>;
};

export type SshLink = Link & { readonly hostKeyFingerprint: string; readonly authenticatedWith: 'key' | 'password' };

const stderrTailBytes = 8192;

export async function connectSsh(options: {
  target: SshTarget;
  appKey: AppSshKey;
  hostKey: HostKeyPolicy;
  password?: string;
  timeoutMs?: number;
}): Promise<SshLink> {
  const { target } = options;
  const where = `${target.username}@${target.host}:${target.port}`;
  const client = new ssh2.Client();
  // Written by ssh2's callbacks during connect (a holder, so TypeScript sees the writes).
  const seen: { fingerprint: string; refusal: FieldkitError | null; usedPassword: boolean } = { fingerprint: '', refusal: null, usedPassword: false };
  const methods = authMethods(target.username, options.appKey, options.password);
  let next = 0;

  // ssh2 may emit more than one error for one failure (a reset, then "Connection lost before
  // handshake", e.g. when the device reboots): the once-listener below takes the first, and
  // this one keeps the others from becoming uncaught exceptions.
  client.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    client.once('ready', () => {
      resolve();
    });
    client.once('error', (error: Error & { level?: string; code?: string }) => {
      reject(seen.refusal ?? connectFailure(where, error));
    });
    client.connect({
      host: target.host,
      port: target.port,
      username: target.username,
      readyTimeout: options.timeoutMs ?? 15_000,
      keepaliveInterval: 5000,
      keepaliveCountMax: 3,
      authHandler: (_remaining, _partial, callback) => {
        const method = methods[next++];
        if (method && method.type !== 'publickey') seen.usedPassword = true;
        if (method) callback(method);
        else callback(false as unknown as AnyAuthMethod); // false ends authentication: all methods tried
      },
      hostVerifier: hostKeyVerifier(where, options.hostKey, seen),
    });
  });

  const link: SshLink = {
    kind: 'ssh',
    describe: where,
    hostKeyFingerprint: seen.fingerprint,
    authenticatedWith: seen.usedPassword ? 'password' : 'key',
    exec: (command, execOptions) => execOver(client, where, command, execOptions),
    openStream: (command) => streamOver(client, where, command),
    upload: (localPath, remotePath, uploadOptions) => uploadOver(client, link, localPath, remotePath, uploadOptions),
    close: () =>
      new Promise<void>((resolve) => {
        client.once('close', () => {
          resolve();
        });
        client.end();
        setTimeout(resolve, 2000).unref();
      }),
  };
  return link;
}

/** The app's key first; the password (first contact only) after it. */
function authMethods(username: string, appKey: AppSshKey, password: string | undefined): AnyAuthMethod[] {
  const methods: AnyAuthMethod[] = [{ type: 'publickey', username, key: appKey.privateKey }];
  if (password !== undefined) {
    methods.push(
      { type: 'password', username, password },
      {
        type: 'keyboard-interactive',
        username,
        prompt: (_name, _instructions, _lang, prompts, finish) => {
          finish(prompts.map(() => password));
        },
      },
    );
  }
  return methods;
}

/**
 * ssh2's host verifier for `policy`: a pinned key must be the one presented (another is
 * HOST_KEY_CHANGED); an unpinned one only on an explicit yes to first contact. Records the
 * fingerprint, and the refusal, in `seen`.
 */
function hostKeyVerifier(where: string, policy: HostKeyPolicy, seen: { fingerprint: string; refusal: FieldkitError | null }): (key: Buffer, verify: (valid: boolean) => void) => void {
  return (key, verify) => {
    seen.fingerprint = hostKeyFingerprint(key);
    const { pinned, acceptFirstContact } = policy;
    if (pinned !== null) {
      if (pinned !== seen.fingerprint) {
        seen.refusal = new FieldkitError(
          appError(
            'HOST_KEY_CHANGED',
            `The host key of ${where} has CHANGED: it is now ${seen.fingerprint}, but ${pinned} was pinned. fieldkit did not connect.`,
            'If the Pi was reinstalled or its SD card replaced, forget its pinned key in Devices and accept the new one after checking it on the Pi (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub). Otherwise something may be impersonating it: do not connect.',
          ),
        );
      }
      verify(pinned === seen.fingerprint);
      return;
    }
    if (!acceptFirstContact) {
      seen.refusal = untrusted(where, seen.fingerprint);
      verify(false);
      return;
    }
    acceptFirstContact(seen.fingerprint).then(
      (yes) => {
        if (!yes) seen.refusal = untrusted(where, seen.fingerprint);
        verify(yes);
      },
      () => {
        seen.refusal = untrusted(where, seen.fingerprint);
        verify(false);
      },
    );
  };
}

/** Adds fieldkit's public key to the device user's authorized_keys (idempotent). */
export async function installAppKey(link: Link, publicKey: string): Promise<void> {
  const line = shellQuote(publicKey);
  const result = await link.exec(
    `umask 077 && mkdir -p ~/.ssh && touch ~/.ssh/authorized_keys && (grep -qxF ${line} ~/.ssh/authorized_keys || printf '%s\\n' ${line} >> ~/.ssh/authorized_keys)`,
  );
  if (result.code !== 0) {
    throw new FieldkitError(
      appError('IO_ERROR', `Could not install fieldkit's key on ${link.describe}: ${result.stderr.toString('utf8').trim()}`, "Check that the user's home folder is writable and not full."),
    );
  }
}

function untrusted(where: string, fingerprint: string): FieldkitError {
  return new FieldkitError(
    appError(
      'HOST_KEY_UNTRUSTED',
      `${where} presented host key ${fingerprint}, which was not accepted.`,
      'Compare the fingerprint with the one on the Pi (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub) and accept it in Devices.',
    ),
  );
}

function connectFailure(where: string, error: Error & { level?: string; code?: string }): FieldkitError {
  if (error.level === 'client-authentication') {
    return new FieldkitError(
      appError('AUTH_FAILED', `${where} refused the login.`, "Check the user name and password (first contact) — or install fieldkit's key on the Pi again."),
      { cause: error },
    );
  }
  if (error.level === 'client-timeout' || /timed out/i.test(error.message)) {
    return new FieldkitError(appError('TIMEOUT', `No SSH answer from ${where} in time.`, 'Check the Pi is on and on this network, and that the address is right.'), { cause: error });
  }
  const reason = error.code === 'ECONNREFUSED' ? 'connection refused' : error.code === 'EHOSTUNREACH' ? 'host unreachable' : error.message;
  return new FieldkitError(
    appError('UNAVAILABLE', `Cannot reach ${where}: ${reason}.`, 'Check the Pi is powered and on this network, and that SSH is enabled on it.'),
    { cause: error },
  );
}

function openChannel(client: Client, where: string, command: string): Promise<ClientChannel> {
  return new Promise((resolve, reject) => {
    client.exec(command, (error, channel) => {
      if (error) reject(new FieldkitError(appError('UNAVAILABLE', `Could not run a command on ${where}: ${error.message}`, 'Reconnect to the device and try again.'), { cause: error }));
      else resolve(channel);
    });
  });
}

async function execOver(client: Client, where: string, command: string, options: ExecOptions = {}): Promise<ExecResult> {
  const channel = await openChannel(client, where, command);
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  channel.on('data', (chunk: Buffer) => stdout.push(chunk));
  channel.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
  channel.end(options.stdin ?? undefined);
  return new Promise((resolve, reject) => {
    const timer = options.timeoutMs
      ? setTimeout(() => {
          channel.close();
          reject(new FieldkitError(appError('TIMEOUT', `\`${command}\` on ${where} did not finish in ${options.timeoutMs ?? 0} ms.`, 'Check the device is not overloaded, then try again.')));
        }, options.timeoutMs)
      : null;
    const onAbort = () => {
      channel.close();
      reject(new FieldkitError(appError('CANCELLED', `\`${command}\` on ${where} was cancelled.`, 'Run it again when ready.')));
    };
    options.signal?.addEventListener('abort', onAbort, { once: true });
    channel.on('close', (code: number | null | undefined, signal: string | undefined) => {
      if (timer) clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      resolve({ code: code ?? null, signal: signal ?? null, stdout: Buffer.concat(stdout), stderr: Buffer.concat(stderr) });
    });
  });
}

async function streamOver(client: Client, where: string, command: string): Promise<LinkStream> {
  const channel = await openChannel(client, where, command);
  let tail = '';
  channel.stderr.on('data', (chunk: Buffer) => {
    tail = (tail + chunk.toString('utf8')).slice(-stderrTailBytes);
  });
  const exit = new Promise<{ code: number | null; signal: string | null }>((resolve) => {
    channel.on('close', (code: number | null | undefined, signal: string | undefined) => {
      resolve({ code: code ?? null, signal: signal ?? null });
    });
  });
  return { readable: channel, writable: channel, stderrTail: () => tail, exit, close: () => {
      channel.close();
    } };
}

function openSftp(client: Client): Promise<SFTPWrapper> {
  return new Promise((resolve, reject) => {
    client.sftp((error, sftp) => {
      if (error) reject(error);
      else resolve(sftp);
    });
  });
}

async function sha256OfFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function uploadOver(client: Client, link: Link, localPath: string, remotePath: string, options: UploadOptions = {}): Promise<{ sha256: string; bytes: number }> {
  const { size } = await stat(localPath);
  const localHash = sha256OfFile(localPath);
  const partPath = `${remotePath}.fieldkit-part`;
  const sftp = await openSftp(client);
  try {
    await new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        sftp.end();
        reject(new FieldkitError(appError('CANCELLED', `Upload to ${link.describe}:${remotePath} was cancelled.`, 'Start it again; the partial file will be replaced.')));
      };
      options.signal?.addEventListener('abort', onAbort, { once: true });
      // Many requests in flight keep a high-latency link busy; 32 KiB is SFTP's safe packet size.
      sftp.fastPut(
        localPath,
        partPath,
        {
          concurrency: 64,
          chunkSize: 32 * 1024,
          mode: options.mode ?? 0o644,
          step: (done) => options.onProgress?.(done, size),
        },
        (error) => {
          options.signal?.removeEventListener('abort', onAbort);
          if (error) reject(new FieldkitError(appError('IO_ERROR', `Upload to ${link.describe}:${remotePath} failed: ${error.message}`, 'Check free space on the device and the link, then try again.'), { cause: error }));
          else resolve();
        },
      );
    });
  } finally {
    sftp.end();
  }
  const expected = await localHash;
  const check = await link.exec(`sha256sum ${shellQuote(partPath)}`);
  const remoteHash = check.stdout.toString('utf8').split(' ')[0] ?? '';
  if (check.code !== 0 || remoteHash !== expected) {
    await link.exec(`rm -f ${shellQuote(partPath)}`);
    throw new FieldkitError(
      appError(
        'IO_ERROR',
        `The upload to ${link.describe}:${remotePath} arrived damaged (SHA-256 ${remoteHash || 'unreadable'} instead of ${expected}); it was removed.`,
        'Try again; if it repeats, check the device storage (it may be failing) and the link.',
      ),
    );
  }
  const moved = await link.exec(`mv -f ${shellQuote(partPath)} ${shellQuote(remotePath)}`);
  if (moved.code !== 0) {
    throw new FieldkitError(appError('IO_ERROR', `Could not move the upload into place at ${remotePath}: ${moved.stderr.toString('utf8').trim()}`, 'Check permissions of the target folder.'));
  }
  return { sha256: expected, bytes: size };
}
