/** Synthetic producer events for tests: realistic kinds, priorities and payload sizes. */
import { execFileSync } from 'node:child_process';

export function syntheticEvents(count: number, options: { startMs?: number; payloadBytes?: number } = {}): string {
  const start = options.startMs ?? Date.now() - count * 10;
  const pad = 'x'.repeat(Math.max(0, (options.payloadBytes ?? 200) - 60));
  const lines: string[] = [];
  for (let i = 0; i < count; i++) {
    const priority = i % 97 === 0 ? 1 : i % 5 === 0 ? 2 : 3;
    const kind = priority === 1 ? 'safety.stop' : priority === 2 ? 'gps.fix' : 'inference';
    lines.push(JSON.stringify({ ts_ms: start + i * 10, priority, kind, model_version: 'yolo-8.1', payload: { i, latency_ms: 20 + (i % 30), pad } }));
  }
  return lines.join('\n') + '\n';
}

/**
 * Appends events through the agent's own CLI (`fieldkit-agent ingest`), as a producer
 * without HTTP would; as `user` when given (the agent's files must stay the agent user's).
 */
export function ingestWithAgentCli(launcher: string, ndjson: string, user?: string): void {
  const [command, args] = user === undefined ? [launcher, ['ingest']] : ['runuser', ['-u', user, '--', launcher, 'ingest']];
  execFileSync(command, args, { input: ndjson, maxBuffer: 64 * 1024 * 1024 });
}
