/**
 * What a restore, drill or replace actually ran: its steps in order, each with its commands
 * (where, what, how long, exit code) and timing. The job's result, the RTO split and the
 * runbook are all made from this record, never from a plan.
 */
import type { RecoveryCommand, RecoveryStep } from '../../shared/recovery.ts';
import type { ExecOptions, ExecResult, Link } from '../kernel/link/linkApi.ts';

/** The commands of the step that is running. */
export type StepCommands = {
  /** Runs `command` over `link` and records it (`on`: the device's name). */
  exec(link: Link, on: string, command: string, options?: ExecOptions): Promise<ExecResult>;
  /** Records a command run some other way (restic on the laptop, a stream). */
  record(command: Omit<RecoveryCommand, 'durationMs'> & { durationMs?: number }): void;
  /** What the step found, shown with it. */
  detail(text: string): void;
};

export type StepRecorder = {
  /** Runs one step; a throw marks it failed (with the error's words) and is rethrown. */
  step<T>(name: string, title: string, run: (commands: StepCommands) => Promise<T>): Promise<T>;
  /** A step not run, and why. */
  skip(name: string, title: string, why: string): void;
  steps(): RecoveryStep[];
};

export function createStepRecorder(onStep?: (step: RecoveryStep, phase: 'started' | 'ended') => void): StepRecorder {
  const steps: RecoveryStep[] = [];
  return {
    async step(name, title, run) {
      const startedAt = Date.now();
      const step: RecoveryStep = { name, title, status: 'done', startedAt, durationMs: 0, commands: [], detail: null };
      steps.push(step);
      onStep?.(step, 'started');
      const commands: StepCommands = {
        async exec(link, on, command, options) {
          const started = Date.now();
          const entry: RecoveryCommand = { on, command, startedAt: started, durationMs: 0, exitCode: null };
          step.commands.push(entry);
          try {
            const result = await link.exec(command, options);
            entry.exitCode = result.code;
            return result;
          } finally {
            entry.durationMs = Date.now() - started;
          }
        },
        record(command) {
          step.commands.push({ ...command, durationMs: command.durationMs ?? Date.now() - command.startedAt });
        },
        detail(text) {
          step.detail = text;
        },
      };
      try {
        return await run(commands);
      } catch (error) {
        step.status = 'failed';
        step.detail = error instanceof Error ? error.message : String(error);
        throw error;
      } finally {
        step.durationMs = Date.now() - startedAt;
        onStep?.(step, 'ended');
      }
    },
    skip(name, title, why) {
      steps.push({ name, title, status: 'skipped', startedAt: Date.now(), durationMs: 0, commands: [], detail: why });
    },
    steps: () => steps.map((s) => ({ ...s, commands: [...s.commands] })),
  };
}
