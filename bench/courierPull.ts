/**
 * A courier pull over SSH on loopback (the real job: RPC over an exec channel, batches
 * verified, stored in the laptop store with custody acks) against `ssh … cat` of the
 * same records exported as NDJSON, in the same run. Target: at least 50,000 records/s.
 */
import { execFileSync } from 'node:child_process';
import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createAppServices } from '../electron/app/appServices.ts';
import { PullResultSchema } from '../shared/courier.ts';
import { ingestWithAgentCli, syntheticEvents } from '../test/support/agentEvents.ts';
import { installTestAgent } from '../test/support/installTestAgent.ts';
import { startSshd, testPassword, testUser } from '../test/support/sshd.ts';
import { makeTempDir } from '../test/support/tempDir.ts';

const records = 200_000;

export async function benchCourierPull(): Promise<void> {
  const dir = makeTempDir('fieldkit-bench-pull-');
  const [sshd, agent] = await Promise.all([startSshd(), installTestAgent({ deviceId: 'bench-pi', owner: testUser })]);
  const services = await createAppServices({ dataDir: join(dir.path, 'data'), version: 'bench' });
  try {
    const launcher = join(agent.prefix, 'current', 'bin', 'fieldkit-agent');
    for (let done = 0; done < records; done += 50_000) ingestWithAgentCli(launcher, syntheticEvents(50_000, { payloadBytes: 200 }), testUser);
    const { device } = await services.handlers['devices.add']({ name: 'bench-pi', link: { kind: 'ssh', host: '127.0.0.1', port: sshd.port, username: testUser, agentPrefix: agent.prefix } });
    const scan = await services.handlers['devices.scanHostKey']({ id: device.id });
    await services.handlers['devices.trustHostKey']({ id: device.id, fingerprint: scan.fingerprint });
    await services.handlers['devices.connect']({ id: device.id, password: testPassword });

    // Baseline: the same records as bytes through the same kind of SSH channel.
    const exported = join(agent.prefix, 'export.ndjson');
    execFileSync('runuser', ['-u', testUser, '--', 'sh', '-c', `${launcher} export > ${exported}`]);
    const keyFile = join(dir.path, 'data', 'ssh', 'id_ed25519');
    const knownHosts = join(dir.path, 'known_hosts');
    writeFileSync(knownHosts, `[127.0.0.1]:${sshd.port} ${sshd.hostKeyPub}\n`);
    const sshStart = performance.now();
    execFileSync('sh', ['-c', `ssh -q -i ${keyFile} -o UserKnownHostsFile=${knownHosts} -o BatchMode=yes -p ${sshd.port} ${testUser}@127.0.0.1 cat ${exported} > /dev/null`]);
    const sshSeconds = (performance.now() - sshStart) / 1000;

    const pullStart = performance.now();
    const { jobId } = await services.handlers['courier.pull']({ id: device.id });
    const record = await services.jobs.whenFinished(jobId);
    const pullSeconds = (performance.now() - pullStart) / 1000;
    if (record.state !== 'done') throw new Error(`pull ${record.state}: ${record.error?.message ?? ''}`);
    const pulled = PullResultSchema.parse(record.result).journals[0]?.new_records ?? 0;
    const rate = (s: number) => `${Math.round(records / s).toLocaleString('en-US')} records/s`;
    const mb = statSync(exported).size / 1e6;
    console.log(`courier pull over SSH on loopback, ${records.toLocaleString('en-US')} records (${mb.toFixed(0)} MB as NDJSON):`);
    console.log(`  ssh … cat of the same records  ${rate(sshSeconds).padStart(20)}  (baseline: bytes only)`);
    console.log(`  fieldkit pull (${pulled} stored)   ${rate(pullSeconds).padStart(20)}  = ${(sshSeconds / pullSeconds).toFixed(2)}x ssh cat`);
  } finally {
    await services.close();
    await sshd.stop();
    agent.remove();
    dir.remove();
  }
}
