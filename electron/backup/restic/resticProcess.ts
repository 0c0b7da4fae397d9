/**
 * Runs restic: the password only in the environment (RESTIC_PASSWORD, RESTIC_FROM_PASSWORD
 * for copy), never argv or a file; stdout and stderr read by line; cancel by SIGINT (restic
 * then removes its lock) and SIGKILL after a grace, or at once where a half-run must never
 * commit (a backup the caller aborts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Readable } from 'node:stream';
import { FieldkitError } from '../../../shared/errors.ts';
import { findRestic } from './resticBinary.ts';
import { resticError, type ResticFailure } from './resticErrors.ts';
import { openStdinHolder, type StdinHolder } from './stdinHolder.ts';

/** A repository as restic opens it. */
export type ResticRepo = {
  /** A folder, or a restic URL. */
  location: string;
  password: string;
  /** For an sftp: repository, the whole ssh command restic runs (`-o sftp.command=…`). */
  sftpCommand?: string | null;
  /** Words naming it in errors ("this laptop (/…/backups/main)"). */
  label: string;
};

export type ResticCall = {
  args: readonly string[];
  repo: ResticRepo;
  /** restic copy's source. */
  fromRepo?: ResticRepo;
  /** In words, for errors: "check the repository". */
  what: string;
  signal?: AbortSignal | undefined;
  /** 'interrupt': SIGINT then SIGKILL after graceMs; 'kill': SIGKILL at once (nothing may commit). */
  onAbort?: 'interrupt' | 'kill';
  graceMs?: number;
  stdin?: Readable | null;
  /**
   * restic sees the end of `stdin` only after it ended normally, never because this
   * process died (stdinHolder.ts): for `backup --stdin`, where the end means "commit".
   */
  holdStdin?: boolean;
  /** Each stdout line (stdout is then not collected). */
  onLine?: (line: string) => void;
  /** Raw stdout (for dump); no line splitting, nothing collected. */
  onStdout?: (chunk: Buffer) => void;
  onStderrLine?: (line: string) => void;
  /** Where restic keeps its cache (default: its own, in the user's cache folder). */
  cacheDir?: string;
};

export type ResticOutcome = { stdout: string; stderr: string };

/** The environment restic gets: ours minus any RESTIC_* the user had set, plus the passwords. */
function resticEnv(call: ResticCall): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('RESTIC_')) env[key] = value;
  env['RESTIC_PASSWORD'] = call.repo.password;
  if (call.fromRepo !== undefined) env['RESTIC_FROM_PASSWORD'] = call.fromRepo.password;
  // Progress lines even when stdout is not a terminal (a job's worker).
  env['RESTIC_PROGRESS_FPS'] = '2';
  if (call.cacheDir !== undefined) env['RESTIC_CACHE_DIR'] = call.cacheDir;
  return env;
}

function repoArgs(call: ResticCall): string[] {
  const args = ['--repo', call.repo.location];
  if (call.fromRepo !== undefined) args.push('--from-repo', call.fromRepo.location);
  const sftp = call.repo.sftpCommand ?? call.fromRepo?.sftpCommand ?? null;
  if (sftp !== null) args.push('--option', `sftp.command=${sftp}`);
  return args;
}

function splitLines(onLine: (line: string) => void): (chunk: Buffer) => void {
  let rest = '';
  return (chunk) => {
    rest += chunk.toString('utf8');
    const lines = rest.split(/\r?\n|\r/);
    rest = lines.pop() ?? '';
    for (const line of lines) if (line !== '') onLine(line);
  };
}

/** Starts restic; `done` settles when it exits, rejecting with an AppError that says what to do. */
export function startRestic(call: ResticCall): { child: ChildProcess; done: Promise<ResticOutcome>; kill(): void } {
  const binary = findRestic();
  const holder = call.stdin && call.holdStdin === true ? openStdinHolder() : null;
  const child = spawn(binary, [...repoArgs(call), ...call.args], {
    env: resticEnv(call),
    stdio: [holder?.readFd ?? (call.stdin ? 'pipe' : 'ignore'), 'pipe', 'pipe'],
  });
  if (holder !== null && call.stdin) feedThroughHolder(holder, call.stdin, child);
  let stdout = '';
  let stderr = '';
  const stdoutLines = call.onLine === undefined ? null : splitLines(call.onLine);
  child.stdout?.on('data', (chunk: Buffer) => {
    if (call.onStdout) call.onStdout(chunk);
    else if (stdoutLines) stdoutLines(chunk);
    else stdout += chunk.toString('utf8');
  });
  const stderrLines = call.onStderrLine === undefined ? null : splitLines(call.onStderrLine);
  child.stderr?.on('data', (chunk: Buffer) => {
    // Bounded: a restic that writes megabytes of warnings keeps its last words.
    stderr = (stderr + chunk.toString('utf8')).slice(-64 * 1024);
    stderrLines?.(chunk);
  });
  if (holder === null && call.stdin && child.stdin) {
    // restic closing its stdin early (it failed) is reported by its exit, not as EPIPE.
    child.stdin.on('error', () => undefined);
    call.stdin.pipe(child.stdin);
  }
  let killTimer: NodeJS.Timeout | null = null;
  const kill = () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGKILL');
  };
  const onAbort = () => {
    if (call.onAbort === 'kill') {
      kill();
      return;
    }
    child.kill('SIGINT');
    killTimer = setTimeout(kill, call.graceMs ?? 5000);
  };
  if (call.signal?.aborted === true) onAbort();
  else call.signal?.addEventListener('abort', onAbort, { once: true });
  const done = new Promise<ResticOutcome>((resolve, reject) => {
    child.once('error', (error) => {
      reject(new FieldkitError(resticError(call.what, call.repo.label, { code: null, signal: null, stderr: error.message }), { cause: error }));
    });
    child.once('close', (code, signal) => {
      if (killTimer) clearTimeout(killTimer);
      call.signal?.removeEventListener('abort', onAbort);
      if (code === 0) {
        resolve({ stdout, stderr });
        return;
      }
      const failure: ResticFailure = { code, signal, stderr };
      reject(new ResticExitError(resticError(call.what, call.repo.label, failure), failure));
    });
  });
  return { child, done, kill };
}

/** The stream's bytes into the holder's FIFO; restic sees the end only once `stdin` ended normally and every byte is in. */
function feedThroughHolder(holder: StdinHolder, stdin: Readable, child: ChildProcess): void {
  if (child.pid === undefined) {
    holder.dispose();
    return;
  }
  holder.started(child.pid);
  let ended = false;
  stdin.once('end', () => { ended = true; });
  // restic gone early (it failed, or was killed): EPIPE here; its exit says what happened.
  holder.writable.on('error', () => undefined);
  holder.writable.once('close', () => {
    if (ended) holder.release();
  });
  child.once('close', () => { holder.dispose(); });
  stdin.pipe(holder.writable);
}

/** restic exited non-zero; `failure` keeps what it said for callers that read more of it (check). */
export class ResticExitError extends FieldkitError {
  readonly failure: ResticFailure;
  constructor(error: ReturnType<typeof resticError>, failure: ResticFailure) {
    super(error);
    this.failure = failure;
  }
}

/** Runs restic to the end and answers its output. */
export function runRestic(call: ResticCall): Promise<ResticOutcome> {
  return startRestic(call).done;
}
