/**
 * Courier pulls over slow links, where compression is meant to beat the raw line:
 *
 * - over a shaped link (a network namespace, netem 20 Mbit/s each way, 5 ms round trip):
 *   the real pull job over SSH against `ssh … cat` of the same records as NDJSON through
 *   the same path, in the same run. Target: at least 3x the records/s.
 * - over a serial console (socat PTY pair, the agent behind a real shell): a PTY does not
 *   hold a line to its baud rate, so the pull's time is taken as the longer of its wall
 *   time and the time its bytes need at 115200 8N1 (10 bits a byte); the baseline is what
 *   that line carries of the same records as NDJSON, uncompressed. Target: at least 3x.
 */
import { execFileSync } from 'node:child_process';
import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createAppServices, type AppServices } from '../electron/app/appServices.ts';
import { PullResultSchema, type PullResult } from '../shared/courier.ts';
import { ingestWithAgentCli, syntheticEvents } from '../test/support/agentEvents.ts';
import { installTestAgent, type TestAgentInstall } from '../test/support/installTestAgent.ts';
import { startShellConsole } from '../test/support/serialConsole.ts';
import { startShapedLink } from '../test/support/shapedLink.ts';
import { startSshd, testPassword, testUser } from '../test/support/sshd.ts';
import { makeTempDir } from '../test/support/tempDir.ts';

const rate = (n: number, s: number): string => `${Math.round(n / s).toLocaleString('en-US')} records/s`;

/** An agent holding `records` synthetic events, and the same records exported as NDJSON beside it. */
async function agentWithRecords(deviceId: string, records: number): Promise<{ agent: TestAgentInstall; launcher: string; exported: string }> {
  const agent = await installTestAgent({ deviceId, owner: testUser });
  const launcher = join(agent.prefix, 'current', 'bin', 'fieldkit-agent');
  for (let done = 0; done < records; done += 25_000) ingestWithAgentCli(launcher, syntheticEvents(Math.min(25_000, records - done), { payloadBytes: 200 }), testUser);
  const exported = join(agent.prefix, 'export.ndjson');
  execFileSync('runuser', ['-u', testUser, '--', 'sh', '-c', `${launcher} export > ${exported}`]);
  return { agent, launcher, exported };
}

async function timedPull(services: AppServices, id: string): Promise<{ seconds: number; result: PullResult }> {
  const start = performance.now();
  const record = await services.jobs.whenFinished((await services.handlers['courier.pull']({ id })).jobId);
  const seconds = (performance.now() - start) / 1000;
  if (record.state !== 'done') throw new Error(`pull ${record.state}: ${record.error?.message ?? ''}`);
  return { seconds, result: PullResultSchema.parse(record.result) };
}

export async function benchPullShapedLink(): Promise<void> {
  // Enough that the pull's fixed cost (job, SSH handshake, agent start: about 2 s) is not the figure.
  const records = 150_000;
  const dir = makeTempDir('fieldkit-bench-shaped-');
  const sshd = await startSshd();
  const { agent, exported } = await agentWithRecords('bench-shaped', records);
  const link = await startShapedLink({ targetPort: sshd.port, rate: '20mbit', rttMs: 5 });
  const services = await createAppServices({ dataDir: join(dir.path, 'data'), version: 'bench' });
  try {
    const { device } = await services.handlers['devices.add']({ name: 'bench-shaped', link: { kind: 'ssh', host: link.host, port: link.port, username: testUser, agentPrefix: agent.prefix } });
    const scan = await services.handlers['devices.scanHostKey']({ id: device.id });
    await services.handlers['devices.trustHostKey']({ id: device.id, fingerprint: scan.fingerprint });
    await services.handlers['devices.connect']({ id: device.id, password: testPassword });
    const keyFile = join(dir.path, 'data', 'ssh', 'id_ed25519');
    const knownHosts = join(dir.path, 'known_hosts');
    writeFileSync(knownHosts, `[${link.host}]:${link.port} ${sshd.hostKeyPub}\n`);
    const sshStart = performance.now();
    execFileSync('sh', ['-c', `ssh -q -i ${keyFile} -o UserKnownHostsFile=${knownHosts} -o BatchMode=yes -p ${link.port} ${testUser}@${link.host} cat ${exported} > /dev/null`]);
    const sshSeconds = (performance.now() - sshStart) / 1000;
    const pull = await timedPull(services, device.id);
    const mb = statSync(exported).size / 1e6;
    const wire = (pull.result.transfer?.bytesIn ?? 0) / 1e6;
    const shaping = link.delayed ? 'netem 20 Mbit/s, 5 ms RTT' : 'tbf 20 Mbit/s; no netem in this kernel, so no added delay';
    console.log(`courier pull over a shaped link (${shaping}), ${records.toLocaleString('en-US')} records (${mb.toFixed(1)} MB as NDJSON):`);
    console.log(`  ssh … cat of the same records  ${rate(records, sshSeconds).padStart(20)}  (baseline: bytes only)`);
    console.log(
      `  fieldkit pull (${pull.result.journals[0]?.new_records ?? 0} stored)    ${rate(records, pull.seconds).padStart(20)}  = ${(sshSeconds / pull.seconds).toFixed(2)}x ssh cat (target >= 3x; ${wire.toFixed(1)} MB on the wire, ${pull.result.transfer?.compressedFrames ?? 0} batches compressed)`,
    );
  } finally {
    await services.close();
    await link.stop();
    await sshd.stop();
    agent.remove();
    dir.remove();
  }
}

export async function benchPullSerial(): Promise<void> {
  const records = 5_000;
  const baud = 115_200;
  const dir = makeTempDir('fieldkit-bench-serial-');
  const tty = await startShellConsole();
  const { agent, exported } = await agentWithRecords('bench-uart', records);
  const services = await createAppServices({ dataDir: join(dir.path, 'data'), version: 'bench' });
  try {
    const { device } = await services.handlers['devices.add']({ name: 'bench-uart', link: { kind: 'serial', path: tty.path, baudRate: baud, username: testUser, agentPrefix: agent.prefix } });
    const pull = await timedPull(services, device.id);
    const lineBytesPerSecond = baud / 10;
    const ndjsonBytes = statSync(exported).size;
    const rawLineSeconds = ndjsonBytes / lineBytesPerSecond;
    const wireBytes = pull.result.transfer?.bytesIn ?? 0;
    const pullSeconds = Math.max(pull.seconds, wireBytes / lineBytesPerSecond);
    console.log(`courier pull over a serial console at ${baud} 8N1, ${records.toLocaleString('en-US')} records (${(ndjsonBytes / 1e6).toFixed(2)} MB as NDJSON):`);
    console.log(`  the raw line, NDJSON uncompressed  ${rate(records, rawLineSeconds).padStart(16)}  (baseline: ${lineBytesPerSecond} bytes/s)`);
    console.log(
      `  fieldkit pull (${pull.result.journals[0]?.new_records ?? 0} stored)      ${rate(records, pullSeconds).padStart(16)}  = ${(rawLineSeconds / pullSeconds).toFixed(2)}x the raw line (target >= 3x; ${(wireBytes / 1e3).toFixed(0)} kB received, ${pull.result.transfer?.compressedFrames ?? 0} batches compressed, ${pull.seconds.toFixed(1)} s wall on an unthrottled PTY)`,
    );
  } finally {
    await services.close();
    await tty.stop();
    agent.remove();
    dir.remove();
  }
}
