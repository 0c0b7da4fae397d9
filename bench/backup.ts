/**
 * A backup of a Pi (the virtual site: systemd, sshd, the deployed agent) holding a 200 MB
 * journal and 50 MB of config and data: `fieldkit backup` (the real job: backup-stream over
 * SSH, verified on the way, into restic) against `ssh pi 'sudo tar c …' | restic backup
 * --stdin` of the same files into a fresh repository, in the same run. Targets: ours at
 * least 0.8× theirs (our time ≤ 1.25× theirs); a backup of the unchanged Pi right after in
 * under 10 % of the first one's time.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import path from 'node:path';
import { BackupRunResultSchema } from '../shared/backup.ts';
import { formatBytes } from '../shared/format.ts';
import { onPi } from '../test/support/deployRig.ts';
import { startRolloutSite } from '../test/support/rolloutSite.ts';

const journalBytes = 200 * 1024 * 1024;
const dataBytes = 50 * 1024 * 1024;
const payload = 'p'.repeat(1000);

/** Fills the Pi's journal to about `bytes` through its HTTP ingest (10,000 events a request). */
async function fillJournal(port: number, bytes: number): Promise<void> {
  const perRequest = 10_000;
  const requests = Math.ceil(bytes / ((payload.length + 80) * perRequest));
  for (let r = 0; r < requests; r++) {
    const body = Array.from({ length: perRequest }, (_, i) => JSON.stringify({ priority: 3, kind: 'bench', payload: { r, i, payload } })).join('\n');
    const response = await fetch(`http://127.0.0.1:${String(port)}/v1/events`, { method: 'POST', headers: { 'Content-Type': 'application/x-ndjson' }, body });
    if (!response.ok) throw new Error(`ingest answered ${String(response.status)}: ${await response.text()}`);
    await response.arrayBuffer();
  }
}

export async function benchBackup(): Promise<void> {
  const rollout = await startRolloutSite({ count: 1, name: 'bkb' });
  try {
    const pi = rollout.site.pis[0];
    if (pi === undefined) throw new Error('no Pi');
    const config = JSON.parse(await onPi(pi, 'sudo -n cat /etc/fieldkit-agent/config.json')) as { ingest: { port: number }; data_dir?: string };
    await fillJournal(config.ingest.port, journalBytes);
    await onPi(pi, `sudo -n sh -c 'mkdir -p /srv/app-data && head -c ${String(dataBytes)} /dev/urandom > /srv/app-data/blob.bin'`);
    const services = await rollout.open();
    // The repositories exist before the clock starts, as the baseline's does (restic init is not a backup).
    await services.handlers['settings.backup.set']({ createLaptop: true, policies: { data: { extraPaths: ['/srv/app-data'] } } });
    const ref = (await services.handlers['devices.list']({})).devices[0]?.id ?? '';
    const run = async () => {
      const start = performance.now();
      const { jobId } = await services.handlers['backup.start']({ deviceIds: [ref], classes: ['config', 'state', 'data'] });
      const record = await services.jobs.whenFinished(jobId);
      if (record.state !== 'done') throw new Error(`backup ${record.state}: ${record.error?.message ?? ''}`);
      return { seconds: (performance.now() - start) / 1000, result: BackupRunResultSchema.parse(record.result) };
    };
    const first = await run();
    const again = await run();
    await services.close();
    const streamed = first.result.items.reduce((n, i) => n + i.bytesRead, 0);
    console.log(`  (fieldkit backup: first ${first.seconds.toFixed(1)} s, unchanged ${again.seconds.toFixed(1)} s, ${formatBytes(streamed)} streamed; unchanged run: ${again.result.items.map((i) => `${i.class} ${i.status}`).join(', ')})`);

    // Baseline: the same files, tarred by the Pi and piped into a fresh restic repository.
    const repo = path.join(rollout.dataDir, 'bench-baseline-repo');
    const env = { ...process.env, RESTIC_PASSWORD: 'bench' };
    execFileSync('restic', ['init', '-r', repo, '-q'], { env });
    const files = ['/etc/fieldkit-agent', '/etc/systemd/system/fieldkit-agent.service', config.data_dir ?? '/var/lib/fieldkit-agent', '/srv/app-data'];
    const ssh = `ssh -q -i ${pi.privateKeyPath} -o UserKnownHostsFile=${pi.knownHostsPath} -o BatchMode=yes -p ${String(pi.sshPort)} ${pi.user}@${pi.host}`;
    const start = performance.now();
    // GNU tar exits 1 when a file changed while read (the live journal): still a complete archive.
    const remote = `sudo -n tar c --warning=no-file-changed ${files.join(' ')}; r=$?; [ $r -le 1 ]`;
    const baseline = spawnSync('bash', ['-c', `set -o pipefail; ${ssh} '${remote}' | restic backup -r ${repo} --stdin --stdin-filename all.tar --json | tail -1`], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const theirs = (performance.now() - start) / 1000;
    if (baseline.status !== 0) throw new Error(`baseline failed (${String(baseline.status)}): ${baseline.stderr.toString()} ${baseline.stdout.toString()}`);

    const mbps = (s: number) => `${(streamed / 1e6 / s).toFixed(1)} MB/s`;
    console.log(`backup of a virtual Pi over SSH on loopback, ${formatBytes(streamed)} streamed (journal ~${formatBytes(journalBytes)}, data ${formatBytes(dataBytes)}):`);
    console.log(`  ssh 'tar c' | restic backup --stdin  ${theirs.toFixed(1).padStart(6)} s  ${mbps(theirs).padStart(12)}  (baseline)`);
    console.log(`  fieldkit backup (first)             ${first.seconds.toFixed(1).padStart(6)} s  ${mbps(first.seconds).padStart(12)}  = ${(theirs / first.seconds).toFixed(2)}x the baseline (target ≥ 0.80x)`);
    console.log(`  fieldkit backup (unchanged Pi)      ${again.seconds.toFixed(1).padStart(6)} s  = ${((100 * again.seconds) / first.seconds).toFixed(0)} % of the first (target < 10 %), ${formatBytes(again.result.items.reduce((n, i) => n + i.bytesAdded, 0))} added`);
  } finally {
    await rollout.stop();
  }
}
