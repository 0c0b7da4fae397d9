/**
 * A restore drill on the virtual site: a Pi holding a 200 MB journal and 50 MB of data, backed
 * up, then `fieldkit drill` restoring its latest backup onto a second Pi — the real job:
 * snapshot checked in memory, services stopped, every class streamed from restic through
 * SSH into backup-restore, databases checked, services started, hello / journal / ingest /
 * health checked. Printed: RTO with its split per step against the budget (2 min,
 * no flash in a drill), and beside it the raw copy of the same snapshots (`restic dump |
 * ssh spare 'sudo tar x'`, no checks, no services) measured in the same run.
 */
import { spawnSync } from 'node:child_process';
import { DrillResultSchema } from '../shared/recovery.ts';
import { formatBytes } from '../shared/format.ts';
import { onPi } from '../test/support/deployRig.ts';
import { startRolloutSite } from '../test/support/rolloutSite.ts';
import { laptopRepo } from '../test/support/backupRig.ts';

const journalBytes = Number(process.env['FIELDKIT_BENCH_DRILL_JOURNAL_MB'] ?? 200) * 1024 * 1024;
const dataBytes = 50 * 1024 * 1024;
const payload = 'p'.repeat(1000);

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

export async function benchDrill(): Promise<void> {
  const rollout = await startRolloutSite({ count: 2, name: 'drb' });
  try {
    const [pi, spare] = rollout.site.pis;
    if (pi === undefined || spare === undefined) throw new Error('no Pis');
    const config = JSON.parse(await onPi(pi, 'sudo -n cat /etc/fieldkit-agent/config.json')) as { ingest: { port: number } };
    await fillJournal(config.ingest.port, journalBytes);
    await onPi(pi, `sudo -n sh -c 'mkdir -p /srv/app-data && head -c ${String(dataBytes)} /dev/urandom > /srv/app-data/blob.bin'`);
    const services = await rollout.open();
    await services.handlers['settings.backup.set']({ policies: { data: { extraPaths: ['/srv/app-data'] } } });
    const devices = (await services.handlers['devices.list']({})).devices;
    const ref = devices.find((d) => d.name === pi.name)?.id ?? '';
    const spareRef = devices.find((d) => d.name === spare.name)?.id ?? '';
    const backup = await services.jobs.whenFinished((await services.handlers['backup.start']({ deviceIds: [ref] })).jobId);
    if (backup.state !== 'done') throw new Error(`backup ${backup.state}: ${backup.error?.message ?? ''}`);
    const record = await services.jobs.whenFinished((await services.handlers['recovery.drill']({ deviceId: ref, onto: spareRef })).jobId);
    const drill = DrillResultSchema.parse(record.result);
    if (record.state !== 'done') throw new Error(`drill ${record.state}: ${record.error?.message ?? ''}`);
    const points = (await services.handlers['recovery.points']({ deviceId: ref })).points;
    await services.close();
    const point = points.find((p) => p.id === drill.pointId);
    const bytes = point?.sizeBytes ?? 0;

    // Baseline: the same snapshots copied raw onto the spare (no checks, no services).
    const ssh = `ssh -q -i ${spare.privateKeyPath} -o UserKnownHostsFile=${spare.knownHostsPath} -o BatchMode=yes -p ${String(spare.sshPort)} ${spare.user}@${spare.host}`;
    const start = performance.now();
    for (const c of point?.classes ?? []) {
      const repo = await laptopRepo(rollout.dataDir, c.class);
      const copy = spawnSync('bash', ['-c', `set -o pipefail; restic -r ${repo.location} dump --no-lock ${c.resticId} /${c.class}.tar | ${ssh} 'sudo -n tar x -C /tmp --exclude=fieldkit-backup-manifest.json'`], { env: { ...process.env, RESTIC_PASSWORD: repo.password }, stdio: ['ignore', 'pipe', 'pipe'] });
      if (copy.status !== 0) throw new Error(`baseline ${c.class} failed: ${copy.stderr.toString()}`);
    }
    const rawSeconds = (performance.now() - start) / 1000;
    const rto = drill.rtoMs / 1000;
    console.log(`restore drill of a virtual Pi onto a spare over SSH on loopback, ${formatBytes(bytes)} restored (journal ~${formatBytes(journalBytes)}, data ${formatBytes(dataBytes)}):`);
    console.log(`  restic dump | ssh 'tar x' (raw copy)  ${rawSeconds.toFixed(1).padStart(6)} s  (baseline: no checks, no services)`);
    console.log(`  fieldkit drill, RTO                   ${rto.toFixed(1).padStart(6)} s  = ${(rto / rawSeconds).toFixed(2)}x the raw copy; budget 120 s (issue 15, no flash in a drill): ${rto < 120 ? 'within' : 'OVER'}`);
    for (const s of drill.steps) console.log(`    ${s.name.padEnd(24)} ${(s.durationMs / 1000).toFixed(1).padStart(6)} s  ${s.detail ?? ''}`.trimEnd());
    console.log(`  RPO: restored state ${drill.rpo.ageSeconds.toFixed(0)} s old (journal to seq ${String(drill.rpo.restoredJournalSeq ?? '?')})`);
  } finally {
    await rollout.stop();
  }
}
