/**
 * Every command a deploy runs on a device goes through here, so each one is transcribed
 * (step, command, exit code, output tail, duration) the moment it ends — also when it
 * fails or the link drops. Root work is always `sudo -n`: a sudo that would prompt fails
 * at once instead of hanging a deploy on a password nobody will type.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { appError, FieldkitError } from '../../shared/errors.ts';
import type { TranscriptEntry } from '../../shared/deploy.ts';
import { type ExecResult, type Link } from '../kernel/link/linkApi.ts';
import { shellQuote } from '../kernel/link/shellQuote.ts';

const outputTailBytes = 4096;

export type RunOptions = {
  /** Run as root via `sudo -n sh -c …`. */
  sudo?: boolean;
  stdin?: string | Buffer;
  timeoutMs?: number;
  /** Shown in the transcript instead of the command (when it carries bulky data). */
  shownAs?: string;
};

export type RemoteSteps = {
  readonly link: Link;
  readonly transcript: TranscriptEntry[];
  /** Runs `command`; never throws for a non-zero exit (the caller decides), only for a lost link or a cancel. */
  run(step: string, command: string, options?: RunOptions): Promise<ExecResult>;
  /** Runs `command` and throws a FieldkitError with its output when it exits non-zero. */
  must(step: string, command: string, what: string, options?: RunOptions): Promise<string>;
  /** Records a laptop-side step (verification, a wait, a decision). */
  note(step: string, description: string, output?: string, durationMs?: number, exitCode?: number | null): void;
  throwIfCancelled(): void;
  /**
   * The same link and transcript, deaf to the cancel: for what must finish once begun
   * (putting the previous release back after a cancel that came after the switch).
   */
  uncancellable(): RemoteSteps;
};

function tail(text: string): string {
  return text.length <= outputTailBytes ? text : `…${text.slice(-outputTailBytes)}`;
}

export function sudoCommand(command: string): string {
  return `sudo -n sh -c ${shellQuote(command)}`;
}

export function cancelled(where: string): FieldkitError {
  return new FieldkitError(appError('CANCELLED', `The deploy to ${where} was cancelled.`, 'Start it again when ready; the device keeps the release it was running.'));
}

export function createRemoteSteps(
  link: Link,
  options: { signal?: AbortSignal | undefined; onTranscript?: ((entry: TranscriptEntry) => void) | undefined; transcript?: TranscriptEntry[] },
): RemoteSteps {
  const transcript: TranscriptEntry[] = options.transcript ?? [];
  const record = (entry: TranscriptEntry) => {
    transcript.push(entry);
    options.onTranscript?.(entry);
  };
  const throwIfCancelled = () => {
    if (options.signal?.aborted === true) throw cancelled(link.describe);
  };

  async function run(step: string, command: string, runOptions: RunOptions = {}): Promise<ExecResult> {
    throwIfCancelled();
    let sent = runOptions.sudo === true ? sudoCommand(command) : command;
    const shown = runOptions.shownAs ?? sent;
    const startedAt = Date.now();
    const began = performance.now();
    let result: ExecResult;
    try {
      // A serial console takes one line of ~3 kB per command: a script goes over as a file.
      if (link.kind === 'serial' && (sent.length > 1500 || sent.includes('\n'))) sent = await scriptFile(link, command, runOptions.sudo === true);
      result = await link.exec(sent, {
        ...(runOptions.stdin === undefined ? {} : { stdin: runOptions.stdin }),
        timeoutMs: runOptions.timeoutMs ?? 120_000,
        ...(options.signal ? { signal: options.signal } : {}),
      });
    } catch (error) {
      record({ at: startedAt, step, command: shown, exitCode: null, output: tail(error instanceof Error ? error.message : String(error)), durationMs: Math.round(performance.now() - began) });
      if (options.signal?.aborted === true) throw cancelled(link.describe);
      // ssh2 throws plain errors ("Not connected", "No response from server") once the connection is gone.
      throw error instanceof FieldkitError ? error : linkLost(link, step, error);
    }
    record({
      at: startedAt,
      step,
      command: shown,
      exitCode: result.code,
      output: tail(result.stdout.toString('utf8') + result.stderr.toString('utf8')),
      durationMs: Math.round(performance.now() - began),
    });
    // ssh2 reports a dropped connection as a closed channel without an exit code or signal.
    if (result.code === null && result.signal === null) throw linkLost(link, step);
    return result;
  }

  async function must(step: string, command: string, what: string, runOptions: RunOptions = {}): Promise<string> {
    const result = await run(step, command, runOptions);
    if (result.code !== 0) {
      const output = (result.stderr.toString('utf8') + result.stdout.toString('utf8')).trim().split('\n').slice(-3).join(' ');
      throw new FieldkitError(appError('IO_ERROR', `${what} failed on ${link.describe} (exit ${String(result.code)}): ${output || 'no output'}`, 'Read the transcript for the command and its output; fix the device, then deploy again.'));
    }
    return result.stdout.toString('utf8');
  }

  return {
    link,
    transcript,
    run,
    must,
    note: (step, description, output = '', durationMs = 0, exitCode = 0) => {
      record({ at: Date.now(), step, command: description, exitCode, output: tail(output), durationMs: Math.max(0, Math.round(durationMs)) });
    },
    throwIfCancelled,
    uncancellable: () => createRemoteSteps(link, { onTranscript: options.onTranscript, transcript }),
  };
}

async function scriptFile(link: Link, script: string, sudo: boolean): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'fieldkit-step-'));
  try {
    const local = path.join(dir, 'step.sh');
    await writeFile(local, script);
    const remote = `/tmp/.fieldkit-step-${randomBytes(6).toString('hex')}.sh`;
    await link.upload(local, remote, { mode: 0o600 });
    return `${sudo ? 'sudo -n ' : ''}sh ${remote}; fk_step=$?; rm -f ${remote}; exit $fk_step`;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export function linkLost(link: Link, step: string, cause?: unknown): FieldkitError {
  const detail = cause instanceof Error ? ` (${cause.message})` : '';
  return new FieldkitError(
    appError('UNAVAILABLE', `The link to ${link.describe} dropped during ${step}${detail}.`, 'Check the device is on and reachable, then deploy again: it keeps running the release it had, and files already sent are not sent again.'),
    cause === undefined ? undefined : { cause },
  );
}
