/**
 * A job's worker process: forked with Node IPC (JSON), what it says parsed before anyone
 * sees it (a message that does not parse is ignored: a worker is a separate program and
 * may be broken), and a cancel that turns into SIGKILL after the kind's grace. What its
 * messages and its end mean for the job is jobRecorder.ts's business.
 */
import { fork } from 'node:child_process';
import { WorkerToRunnerSchema, type RunnerToWorker, type WorkerToRunner } from './jobProtocol.ts';

/** How to start a worker: Node itself, or Electron's binary with ELECTRON_RUN_AS_NODE. */
export type WorkerLaunch = { execPath: string; script: string; env: Record<string, string> };

export type WorkerListener = {
  /** A message that parsed as the protocol says. */
  message(message: WorkerToRunner): void;
  /** The process could not be started (or IPC to it failed). */
  failed(error: Error): void;
  /** The process is gone, with its exit code or the signal that ended it. */
  gone(code: number | null, signal: NodeJS.Signals | null): void;
};

export type WorkerProcess = {
  readonly pid: number | undefined;
  send(message: RunnerToWorker): void;
  /** Asks the worker to stop; it is killed if it has not ended after `graceMs`. */
  cancel(reason: string, graceMs: number): void;
  /** The job has its final state: no kill is pending any more. */
  release(): void;
};

export function forkWorker(launch: WorkerLaunch, listener: WorkerListener): WorkerProcess {
  const child = fork(launch.script, [], {
    execPath: launch.execPath,
    env: { ...process.env, ...launch.env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    serialization: 'json',
  });
  let killTimer: NodeJS.Timeout | null = null;
  child.on('message', (raw: unknown) => {
    const message = WorkerToRunnerSchema.safeParse(raw);
    if (message.success) listener.message(message.data);
  });
  child.on('error', (error) => {
    listener.failed(error);
  });
  child.on('close', (code, signal) => {
    listener.gone(code, signal);
  });
  return {
    get pid() {
      return child.pid;
    },
    send(message) {
      child.send(message);
    },
    cancel(reason, graceMs) {
      const message: RunnerToWorker = { type: 'cancel', reason };
      if (child.connected) child.send(message);
      killTimer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    },
    release() {
      if (killTimer) clearTimeout(killTimer);
    },
  };
}
