/** Runs the real `fieldkit` CLI as a child process (Node 24 runs the TypeScript directly). */
import { spawn, type ChildProcess } from 'node:child_process';

export const cliEntry = 'electron/cli/fieldkit.ts';

export type CliRun = { code: number | null; stdout: string; stderr: string };

/** `entry`: the CLI's entry (a test's own, such as virtualPiCli.ts, runs the same program with options). */
export function runCliProcess(args: readonly string[], env: Record<string, string> = {}, entry = cliEntry): Promise<CliRun> {
  const child = startCliProcess(args, env, entry);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      resolve({ code, stdout, stderr });
    });
  });
}

export function startCliProcess(args: readonly string[], env: Record<string, string> = {}, entry = cliEntry): ChildProcess {
  return spawn(process.execPath, [entry, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
}
