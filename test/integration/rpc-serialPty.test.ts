/**
 * The agent RPC over a serial console: the agent runs on a real PTY in raw mode (as on a
 * Pi's UART after `stty raw -echo`), socat carries the bytes to a second PTY the laptop
 * side opens, and kernel-style messages are written to the agent's terminal while the
 * two talk, as printk does on a console. One protocol, and it reads through the noise.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, openSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ReadStream, WriteStream } from 'node:tty';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAgentRpcClient, type AgentRpcClient } from '../../electron/kernel/link/agentRpcClient.ts';
import { verifyJournalBatch } from '../../electron/kernel/link/verifyJournalBatch.ts';
import { agentRpcArgs, createAgentRpcRig, type AgentRpcRig } from '../support/agentRpcFixture.ts';
import { recordsBatches } from '../support/recordsBatch.ts';

async function waitForPath(path: string): Promise<void> {
  for (let i = 0; i < 250 && !existsSync(path); i++) await new Promise((resolve) => setTimeout(resolve, 20));
  if (!existsSync(path)) throw new Error(`${path} did not appear`);
}

describe('agent RPC over a serial console (PTY, raw mode)', () => {
  let rig: AgentRpcRig;
  let socat: ChildProcess;
  let input: ReadStream;
  let output: WriteStream;
  let client: AgentRpcClient;
  let agentTty = '';
  let noiseBytes = 0;

  /**
   * Writes a kernel-style line to the agent's terminal, as printk does on a console. Off
   * the event loop: a write to a tty whose output is backed up blocks until the reader
   * (this process) reads, and a synchronous one would deadlock.
   */
  async function noise(text: string): Promise<void> {
    const line = `\r\n[ ${(performance.now() / 1000).toFixed(6).padStart(12)}] ${text}\r\n`;
    await writeFile(agentTty, line);
    noiseBytes += Buffer.byteLength(line);
  }

  beforeAll(async () => {
    rig = createAgentRpcRig();
    rig.fill(2000);
    const near = join(rig.dir, 'ttyLaptop');
    agentTty = join(rig.dir, 'ttyPi');
    // The agent's end: its stdin and stdout are the PTY (raw, no echo); stderr goes to a file, as it must on a console.
    const agentCommand = `ln -sf $(tty) ${agentTty}; exec ${[process.execPath, ...agentRpcArgs(rig.configPath)].join(' ')} 2>${join(rig.dir, 'agent.log')}`;
    socat = spawn('socat', [`pty,link=${near},raw,echo=0`, `system:${agentCommand},pty,raw,echo=0,setsid,ctty`], { stdio: 'ignore' });
    await waitForPath(near);
    await waitForPath(agentTty);
    const fd = openSync(near, 'r+');
    input = new ReadStream(fd);
    input.setRawMode(true);
    output = new WriteStream(fd);
    client = createAgentRpcClient({ readable: input, writable: output }, { timeoutMs: 15_000 });
  });

  afterAll(async () => {
    client.close();
    input.destroy();
    output.destroy();
    if (socat.exitCode === null) {
      await new Promise<void>((resolve) => {
        socat.once('exit', () => {
          resolve();
        });
        socat.kill('SIGTERM');
      });
    }
    rig.remove();
  });

  it('answers through a login banner and kernel messages on the console', async () => {
    await noise('Raspbian GNU/Linux 12 pi-07 ttyAMA0');
    await noise('\x1b[1;31mUnder-voltage detected! (0x00050005)\x1b[0m');
    const hello = await client.call('hello', {});
    expect(hello).toMatchObject({ ok: true, value: { device_id: 'pi-07' } });
    for (let i = 0; i < 5; i++) {
      await noise(`usb 1-1: new high-speed USB device number ${i + 2} using xhci_hcd`);
      expect((await client.call('journal.info', {})).ok).toBe(true);
    }
    const diagnostics = client.diagnostics();
    expect(diagnostics.skippedBytes).toBe(noiseBytes);
    // Noise that arrives together is reported as one run.
    expect(diagnostics.faults.garbage).toBeGreaterThanOrEqual(5);
    expect(diagnostics.echoedMessages).toBe(0);
  });

  it('pulls the whole journal, 8-bit clean, with kernel messages arriving mid-stream', async () => {
    const hello = await client.call('hello', {});
    if (!hello.ok) throw new Error(hello.error.message);
    const stream = client.stream('journal.read', { journal_id: hello.value.journal_id, after_seq: 0, batch_records: 100 }, { window: 2 });
    const seqs: number[] = [];
    let batches = 0;
    for await (const batch of recordsBatches(stream)) {
      expect(verifyJournalBatch(batch).ok).toBe(true);
      seqs.push(...batch.records.map((r) => r.seq));
      if (++batches % 4 === 0) await noise(`mmc0: card 0001 removed? no: batch ${batches}`);
    }
    expect(await stream.result).toEqual({ ok: true, value: { through_seq: 2000, records: 2000, more: false } });
    expect(seqs).toEqual(Array.from({ length: 2000 }, (_, i) => i + 1));
    // One more answer: it is written after the last noise, so all the noise has arrived.
    expect((await client.call('journal.info', {})).ok).toBe(true);
    expect(client.diagnostics().skippedBytes).toBe(noiseBytes);
  });
});
