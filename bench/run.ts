/**
 * `npm run bench`: each figure of ours beside a baseline measured in the same run on
 * the same data, printed as a ratio. Not a test: nothing here passes or fails.
 *
 * - drive read check (our worker: read + SHA-256 + progress) vs `dd … | sha256sum`
 *   and vs plain `dd` to /dev/null, on one real block device (zram, needs root).
 * - agent journal.read through the RPC over a pipe vs a raw node:sqlite SELECT (bench/agentRpcRead.ts).
 * - agent ingest over HTTP with durable acks vs raw node:sqlite inserts (bench/agentIngest.ts).
 * - courier pull over SSH on loopback vs `ssh … cat` of the same records (bench/courierPull.ts).
 * - a site visit of 8 devices x 100k records vs pulling them one after another (bench/siteVisit.ts).
 * - courier forward into a local ClickHouse vs clickhouse-client inserting the same rows (bench/courierForward.ts).
 * - the same through the Distributed table of a 2 × 2 cluster on loopback vs clickhouse-client into it (bench/courierClusterForward.ts).
 * - flash write + read-back to zram (bench/flashWrite.ts): a raw image vs `dd oflag=direct` + `dd iflag=direct | sha256sum`,
 *   a zstd image vs `zstd -dc | dd` + the same read-back, and a 25%-mapped image vs a fully mapped one.
 * - the Health screen with fifty simulated devices at 1 Hz through the web host in Chromium (bench/healthUi.ts):
 *   renderer main-thread busy share against a 10% budget, device-page frame rate against 30 fps.
 * - backup of a virtual Pi (200 MB journal, 50 MB config and data) vs `ssh pi 'tar c …' | restic backup --stdin`,
 *   and a backup of the unchanged Pi against the first one's time (bench/backup.ts).
 * - a restore drill of that Pi onto a second one: RTO split per step against the 2 min budget,
 *   beside `restic dump | ssh spare 'tar x'` of the same snapshots (bench/drill.ts).
 *
 * Each bench is a module exporting one async function; they run in turn.
 */
import { execFileSync } from 'node:child_process';
import { createEventBus } from '../electron/kernel/api/eventBus.ts';
import { jobKinds } from '../electron/app/domains.ts';
import { defaultWorkerLaunch } from '../electron/app/jobWorkerLaunch.ts';
import { createJobRunner } from '../electron/kernel/jobs/jobRunner.ts';
import { createJobStore } from '../electron/kernel/jobs/jobStore.ts';
import { openStore } from '../electron/kernel/store/openStore.ts';
import { formatRate } from '../shared/format.ts';
import { makeTempDir } from '../test/support/tempDir.ts';
import { createZram, fillRandom } from '../test/support/zram.ts';
import { benchAgentIngest } from './agentIngest.ts';
import { benchAgentRpcRead } from './agentRpcRead.ts';
import { benchBackup } from './backup.ts';
import { benchCourierPull } from './courierPull.ts';
import { benchCourierForward } from './courierForward.ts';
import { benchCourierClusterForward } from './courierClusterForward.ts';
import { benchDrill } from './drill.ts';
import { benchFlashWrite } from './flashWrite.ts';
import { benchHealthUi } from './healthUi.ts';
import { benchSiteVisit } from './siteVisit.ts';

const sizeBytes = 1024 * 1024 * 1024;
const rounds = 3;

function seconds(fn: () => void): number {
  const start = performance.now();
  fn();
  return (performance.now() - start) / 1000;
}

function best(values: number[]): number {
  return Math.min(...values);
}

async function benchDriveRead(): Promise<void> {
  const dir = makeTempDir('fieldkit-bench-');
  const zram = createZram(sizeBytes);
  try {
    fillRandom(zram.device, sizeBytes);
    const dd = best(
      Array.from({ length: rounds }, () => seconds(() => execFileSync('dd', [`if=${zram.device}`, 'of=/dev/null', 'bs=4M', 'status=none']))),
    );
    const ddHash = best(
      Array.from({ length: rounds }, () => seconds(() => execFileSync('sh', ['-c', `dd if=${zram.device} bs=4M status=none | sha256sum`]))),
    );
    const db = openStore(dir.path);
    const runner = createJobRunner({ kinds: jobKinds, store: createJobStore(db), bus: createEventBus(), launch: defaultWorkerLaunch() });
    const ours: number[] = [];
    for (let i = 0; i < rounds; i++) {
      const start = performance.now();
      const job = runner.start('drives.readCheck', { device: zram.device, sizeBytes });
      const record = await runner.whenFinished(job.id);
      if (record.state !== 'done') throw new Error(`read check ${record.state}: ${record.error?.message ?? ''}`);
      ours.push((performance.now() - start) / 1000);
    }
    await runner.close();
    db.close();
    const oursBest = best(ours);
    const rate = (s: number) => formatRate(sizeBytes / s);
    console.log(`drive read check, ${sizeBytes / 1024 ** 2} MiB zram, best of ${rounds}:`);
    console.log(`  dd to /dev/null        ${rate(dd).padStart(12)}  (baseline: raw read)`);
    console.log(`  dd | sha256sum         ${rate(ddHash).padStart(12)}  (baseline: read + hash)`);
    console.log(`  fieldkit drives check  ${rate(oursBest).padStart(12)}  = ${(ddHash / oursBest).toFixed(2)}x dd|sha256sum, ${(dd / oursBest).toFixed(2)}x raw dd`);
  } finally {
    await zram.remove();
    dir.remove();
  }
}

const benches: readonly (() => Promise<void>)[] = [benchDriveRead, benchAgentRpcRead, benchAgentIngest, benchCourierPull, benchSiteVisit, benchCourierForward, benchCourierClusterForward, benchFlashWrite, benchHealthUi, benchBackup, benchDrill];
for (const bench of benches) {
  await bench();
  console.log('');
}
