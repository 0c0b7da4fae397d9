/**
 * A relay between the laptop and a real agent in tests (`node holdCustodyAnswers.ts LOG
 * AGENT-ARGV…`): every byte from the laptop goes to the agent unchanged, every frame from
 * the agent comes back, except that each answer to a custody.ack is held for up to `holdMs`
 * (released early when the laptop sends a credit). It logs "carried on" for each credit the
 * laptop sends (it took another batch) while a custody.ack of its is unanswered: a laptop
 * that waits for custody answers before going on never does.
 */
import { spawn } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { createFrameDecoder, encodeBinaryFrame, encodeFrame, encodeRawFrame, FrameType } from '../../shared/rpcFrame.ts';

const holdMs = 3000;
const [logPath, command, ...args] = process.argv.slice(2);
if (logPath === undefined || command === undefined) throw new Error('usage: holdCustodyAnswers.ts LOG AGENT-ARGV…');

const agent = spawn(command, args, { stdio: ['pipe', 'pipe', 'inherit'] });
const custodyIds = new Set<number>();
/** custody.ack requests whose answer the laptop has not been given yet. */
const unanswered = new Set<number>();
let held: { id: number; frame: Uint8Array; timer: NodeJS.Timeout }[] = [];

function release(): void {
  for (const h of held) {
    clearTimeout(h.timer);
    process.stdout.write(h.frame);
    unanswered.delete(h.id);
  }
  held = [];
}

function field(message: unknown, key: string): unknown {
  return typeof message === 'object' && message !== null ? (message as Record<string, unknown>)[key] : undefined;
}

const fromLaptop = createFrameDecoder();
process.stdin.on('data', (chunk: Buffer) => {
  for (const item of fromLaptop.push(chunk)) {
    if (item.kind !== 'message') continue;
    const type = field(item.message, 'type');
    const id = field(item.message, 'id');
    if (type === 'request' && field(item.message, 'method') === 'custody.ack' && typeof id === 'number') {
      custodyIds.add(id);
      unanswered.add(id);
    }
    if (type === 'credit') {
      if (unanswered.size > 0) appendFileSync(logPath, 'carried on\n');
      release();
    }
  }
  agent.stdin.write(chunk);
});
process.stdin.on('end', () => agent.stdin.end());

const fromAgent = createFrameDecoder();
agent.stdout.on('data', (chunk: Buffer) => {
  for (const item of fromAgent.push(chunk)) {
    if (item.kind === 'message') {
      const frame = encodeFrame(item.message);
      const id = field(item.message, 'id');
      if (field(item.message, 'type') === 'result' && typeof id === 'number' && custodyIds.has(id)) {
        held.push({ id, frame, timer: setTimeout(release, holdMs) });
      } else {
        process.stdout.write(frame);
      }
    } else if (item.kind === 'compressed') {
      process.stdout.write(encodeRawFrame(FrameType.zstdJson, item.data));
    } else if (item.kind === 'binary') {
      process.stdout.write(encodeBinaryFrame(item.channel, item.data));
    }
  }
});
agent.stdout.on('end', () => {
  release();
  process.stdout.end();
});
agent.on('exit', (code) => {
  process.exitCode = code ?? 1;
});
