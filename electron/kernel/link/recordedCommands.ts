/**
 * The one way the laptop runs a command on a device and records it: every command goes
 * through `run`, and is transcribed (step, command, exit code, output tail, duration) the
 * moment it ends — also when it fails, the link drops or the work is cancelled. Root work is
 * always `sudo -n sh -c …`: a sudo that would prompt fails at once instead of hanging on a
 * password nobody will type. Secrets the caller names are blanked out of everything
 * recorded (command, output, notes), also base64-encoded or shell-quoted.
 *
 * The mechanics live here once; what varies per domain is handed in: the wording of a
 * cancel, a lost link and a failed step, the default timeout, and two link policies (a long
 * command over a serial console goes as a script file; an exit without a code is a lost link).
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TranscriptEntry } from '../../../shared/deploy.ts';
import { appError, FieldkitError } from '../../../shared/errors.ts';
import type { ExecResult, Link } from './linkApi.ts';
import { shellQuote } from './shellQuote.ts';

const outputTailBytes = 4096;
const redacted = '••••••';

export type RecordedRunOptions = {
  /** Run as root via `sudo -n sh -c …`. */
  sudo?: boolean;
  stdin?: string | Buffer;
  timeoutMs?: number;
  /** Shown in the transcript instead of the command (when it carries bulky data). */
  shownAs?: string;
};

export type RecordedCommands = {
  readonly link: Link;
  readonly transcript: TranscriptEntry[];
  /** Runs `command`; never throws for a non-zero exit (the caller decides), only for a lost link or a cancel. */
  run(step: string, command: string, options?: RecordedRunOptions): Promise<ExecResult>;
  /** Runs `command` and throws a FieldkitError with its output when it exits non-zero. */
  must(step: string, command: string, what: string, options?: RecordedRunOptions): Promise<string>;
  /** Records a laptop-side step (verification, a wait, a decision). */
  note(step: string, description: string, output?: string, durationMs?: number, exitCode?: number | null): void;
  throwIfCancelled(): void;
  /** Blanks every secret out of a text meant for people. */
  redact(text: string): string;
  /**
   * The same link and transcript, deaf to the cancel: for what must finish once begun
   * (putting the previous release back after a cancel that came after the switch).
   */
  uncancellable(): RecordedCommands;
};

/** What a domain says in its own words, and how its links behave. */
export type RecordedCommandsOptions = {
  signal?: AbortSignal | undefined;
  onTranscript?: ((entry: TranscriptEntry) => void) | undefined;
  /** An existing transcript to go on with (it is appended to). */
  transcript?: TranscriptEntry[];
  /** Texts never to record (a Wi-Fi passphrase). */
  secrets?: readonly string[];
  /** When `run` is given none. */
  defaultTimeoutMs: number;
  /** The error of a cancelled run. */
  cancelled: () => FieldkitError;
  /** The error of a link that failed during `step` (`cause`: what the link threw, if it threw). */
  linkLost: (step: string, cause?: unknown) => FieldkitError;
  /** The hint of `must`'s error for a command that exited non-zero. */
  failedHint: string;
  /** A serial console takes one line of ~3 kB per command: longer or multi-line commands go over as a script file. */
  scriptLongCommands?: boolean;
  /** ssh2 reports a dropped connection as a closed channel without an exit code or signal: treat that as a lost link. */
  noExitCodeIsLost?: boolean;
};

/** `sudo -n`: a sudo that would ask for a password fails at once instead of hanging. */
function sudoCommand(command: string): string {
  return `sudo -n sh -c ${shellQuote(command)}`;
}

/** A redactor for `secrets`: each also base64-encoded (stdin on a serial line) and shell-quoted, longest first. */
function secretRedactor(secrets: readonly string[]): (text: string) => string {
  const needles = secrets
    .filter((s) => s.length > 0)
    .flatMap((s) => [s, Buffer.from(s).toString('base64').replace(/=+$/, ''), shellQuote(s)])
    .sort((a, b) => b.length - a.length);
  return (text) => needles.reduce((out, needle) => out.replaceAll(needle, redacted), text);
}

export function createRecordedCommands(link: Link, options: RecordedCommandsOptions): RecordedCommands {
  const transcript: TranscriptEntry[] = options.transcript ?? [];
  const redact = secretRedactor(options.secrets ?? []);
  const tail = (text: string): string => {
    const clean = redact(text);
    return clean.length <= outputTailBytes ? clean : `…${clean.slice(-outputTailBytes)}`;
  };
  const record = (entry: TranscriptEntry): void => {
    transcript.push(entry);
    options.onTranscript?.(entry);
  };
  const throwIfCancelled = (): void => {
    if (options.signal?.aborted === true) throw options.cancelled();
  };

  async function run(step: string, command: string, runOptions: RecordedRunOptions = {}): Promise<ExecResult> {
    throwIfCancelled();
    let sent = runOptions.sudo === true ? sudoCommand(command) : command;
    const shown = redact(runOptions.shownAs ?? sent);
    const at = Date.now();
    const began = performance.now();
    let result: ExecResult;
    try {
      if (options.scriptLongCommands === true && link.kind === 'serial' && (sent.length > 1500 || sent.includes('\n'))) sent = await scriptFile(link, command, runOptions.sudo === true);
      result = await link.exec(sent, {
        ...(runOptions.stdin === undefined ? {} : { stdin: runOptions.stdin }),
        timeoutMs: runOptions.timeoutMs ?? options.defaultTimeoutMs,
        ...(options.signal ? { signal: options.signal } : {}),
      });
    } catch (error) {
      record({ at, step, command: shown, exitCode: null, output: tail(error instanceof Error ? error.message : String(error)), durationMs: Math.round(performance.now() - began) });
      if (options.signal?.aborted === true) throw options.cancelled();
      // ssh2 throws plain errors ("Not connected", "No response from server") once the connection is gone.
      throw error instanceof FieldkitError ? error : options.linkLost(step, error);
    }
    record({ at, step, command: shown, exitCode: result.code, output: tail(result.stdout.toString('utf8') + result.stderr.toString('utf8')), durationMs: Math.round(performance.now() - began) });
    if (options.noExitCodeIsLost === true && result.code === null && result.signal === null) throw options.linkLost(step);
    return result;
  }

  async function must(step: string, command: string, what: string, runOptions: RecordedRunOptions = {}): Promise<string> {
    const result = await run(step, command, runOptions);
    if (result.code !== 0) {
      const output = redact((result.stderr.toString('utf8') + result.stdout.toString('utf8')).trim()).split('\n').slice(-3).join(' ');
      throw new FieldkitError(appError('IO_ERROR', `${what} failed on ${link.describe} (exit ${String(result.code)}): ${output || 'no output'}`, options.failedHint));
    }
    return result.stdout.toString('utf8');
  }

  return {
    link,
    transcript,
    run,
    must,
    note: (step, description, output = '', durationMs = 0, exitCode = 0) => {
      record({ at: Date.now(), step, command: redact(description), exitCode, output: tail(output), durationMs: Math.max(0, Math.round(durationMs)) });
    },
    throwIfCancelled,
    redact,
    uncancellable: () => createRecordedCommands(link, { ...options, signal: undefined, transcript }),
  };
}

/** Uploads `script` and returns the command that runs it (as root with `sudo`) and removes it. */
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
