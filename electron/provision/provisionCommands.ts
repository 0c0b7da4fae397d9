/**
 * Every command provisioning runs on the Pi goes through here: transcribed the moment it
 * ends (step, command, exit code, output tail, duration), with every secret (the Wi-Fi
 * passphrase) blanked out of what is recorded. File contents travel as stdin, never in
 * the command, so a transcript shows which file was written but not what it holds.
 */
import type { TranscriptEntry } from '../../shared/deploy.ts';
import { appError, FieldkitError } from '../../shared/errors.ts';
import { type ExecResult, type Link } from '../kernel/link/linkApi.ts';
import { shellQuote } from '../kernel/link/shellQuote.ts';

const outputTailBytes = 4096;
const redacted = '••••••';

export type ProvisionCommands = {
  readonly link: Link;
  readonly transcript: TranscriptEntry[];
  /** Runs `command` (as root with `sudo`); never throws for a non-zero exit, only for a lost link or a cancel. */
  run(step: string, command: string, options?: { sudo?: boolean; stdin?: string; timeoutMs?: number }): Promise<ExecResult>;
  /** Like run, but a non-zero exit throws with its output. */
  must(step: string, command: string, what: string, options?: { sudo?: boolean; stdin?: string; timeoutMs?: number }): Promise<string>;
  /** Records a laptop-side step (a decision, the SSH check). */
  note(step: string, description: string, output: string, durationMs: number, exitCode?: number | null): void;
  /** Blanks every secret out of a text meant for people. */
  redact(text: string): string;
};

/** `sudo -n`: a sudo that would ask for a password fails at once instead of hanging on the console. */
export function asRoot(command: string): string {
  return `sudo -n sh -c ${shellQuote(command)}`;
}

export function createProvisionCommands(link: Link, options: { secrets: readonly string[]; signal?: AbortSignal | undefined; onTranscript?: ((entry: TranscriptEntry) => void) | undefined }): ProvisionCommands {
  const transcript: TranscriptEntry[] = [];
  // A secret may also show up base64-encoded (stdin on a serial line) or shell-quoted.
  const needles = options.secrets
    .filter((s) => s.length > 0)
    .flatMap((s) => [s, Buffer.from(s).toString('base64').replace(/=+$/, ''), shellQuote(s)])
    .sort((a, b) => b.length - a.length);
  const redact = (text: string): string => needles.reduce((out, needle) => out.replaceAll(needle, redacted), text);
  const tail = (text: string): string => {
    const clean = redact(text);
    return clean.length <= outputTailBytes ? clean : `…${clean.slice(-outputTailBytes)}`;
  };
  const record = (entry: TranscriptEntry) => {
    transcript.push(entry);
    options.onTranscript?.(entry);
  };

  const aborted = (): boolean => options.signal?.aborted === true;

  async function run(step: string, command: string, runOptions: { sudo?: boolean; stdin?: string; timeoutMs?: number } = {}): Promise<ExecResult> {
    if (aborted()) throw cancelled(link);
    const sent = runOptions.sudo === true ? asRoot(command) : command;
    const at = Date.now();
    const began = performance.now();
    let result: ExecResult;
    try {
      result = await link.exec(sent, {
        ...(runOptions.stdin === undefined ? {} : { stdin: runOptions.stdin }),
        timeoutMs: runOptions.timeoutMs ?? 60_000,
        ...(options.signal ? { signal: options.signal } : {}),
      });
    } catch (error) {
      record({ at, step, command: redact(sent), exitCode: null, output: tail(error instanceof Error ? error.message : String(error)), durationMs: Math.round(performance.now() - began) });
      if (aborted()) throw cancelled(link);
      throw error instanceof FieldkitError
        ? error
        : new FieldkitError(appError('UNAVAILABLE', `The console ${link.describe} stopped answering during ${step}.`, 'Check the cable and that the Pi is powered, then provision again: steps already done are kept and not redone.'), { cause: error });
    }
    record({ at, step, command: redact(sent), exitCode: result.code, output: tail(result.stdout.toString('utf8') + result.stderr.toString('utf8')), durationMs: Math.round(performance.now() - began) });
    return result;
  }

  return {
    link,
    transcript,
    run,
    async must(step, command, what, runOptions = {}) {
      const result = await run(step, command, runOptions);
      if (result.code !== 0) {
        const output = redact((result.stderr.toString('utf8') + result.stdout.toString('utf8')).trim()).split('\n').slice(-3).join(' ');
        throw new FieldkitError(appError('IO_ERROR', `${what} failed on ${link.describe} (exit ${String(result.code)}): ${output || 'no output'}`, 'Read the transcript for the command and its output; fix the Pi, then provision again (finished steps are not redone).'));
      }
      return result.stdout.toString('utf8');
    },
    note(step, description, output, durationMs, exitCode = 0) {
      record({ at: Date.now(), step, command: redact(description), exitCode, output: tail(output), durationMs: Math.max(0, Math.round(durationMs)) });
    },
    redact,
  };
}

export function cancelled(link: Link): FieldkitError {
  return new FieldkitError(appError('CANCELLED', `Provisioning over ${link.describe} was cancelled.`, 'Start it again when ready: finished steps are kept and not redone.'));
}
