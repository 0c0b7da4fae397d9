/** Runs a command on a virtual Pi with the OpenSSH client, as a technician's script would. */
import { spawn } from 'node:child_process';

export type ExecResult = { code: number | null; stdout: string; stderr: string };

export type SshTarget = { host: string; port: number; user: string; privateKeyPath: string; knownHostsPath: string };

export function sshArgs(target: SshTarget): string[] {
  return [
    '-i', target.privateKeyPath,
    '-p', String(target.port),
    '-o', 'BatchMode=yes',
    '-o', 'IdentitiesOnly=yes',
    '-o', `UserKnownHostsFile=${target.knownHostsPath}`,
    '-o', 'StrictHostKeyChecking=yes',
    '-o', 'ConnectTimeout=5',
    '-o', 'LogLevel=ERROR',
    `${target.user}@${target.host}`,
  ];
}

/** Resolves with the exit code (null when killed) and output; never rejects on a failed command. */
export function sshExec(target: SshTarget, command: string, options: { input?: string; timeoutMs?: number } = {}): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('ssh', [...sshArgs(target), '--', command], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
    }, options.timeoutMs ?? 30_000);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(options.input ?? '');
  });
}
