/** Runs `fieldkit-agent run` from source as a child process, the way systemd would. */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AgentConfigInput } from '../../shared/agentConfig.ts';

export const agentEntry = 'agent/main.ts';

export type AgentDaemon = { child: ChildProcess; url: string; stderr(): string; exited: Promise<number | null> };

/** Writes `config` as config.json in `dir` and returns its path. */
export function writeAgentConfig(dir: string, config: AgentConfigInput): string {
  const path = join(dir, 'config.json');
  writeFileSync(path, JSON.stringify(config));
  return path;
}

export async function waitForHealth(url: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const res = await fetch(`${url}/health`);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`the agent at ${url} did not answer /health`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Starts the daemon and resolves once /health answers. */
export async function startAgentDaemon(configPath: string, port: number): Promise<AgentDaemon> {
  const child = spawn(process.execPath, [agentEntry, 'run', '--config', configPath], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => {
    resolve(code);
  }));
  const url = `http://127.0.0.1:${port}`;
  await Promise.race([
    waitForHealth(url),
    exited.then((code) => {
      throw new Error(`the agent exited (${String(code)}) before answering: ${stderr}`);
    }),
  ]);
  return { child, url, stderr: () => stderr, exited };
}
