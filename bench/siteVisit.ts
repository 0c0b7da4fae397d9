/**
 * A site visit of 8 devices with 100k records each (real agents over the local link, each
 * its own `fieldkit-agent rpc` process) against pulling the same devices one after another
 * with single pulls, each into a fresh laptop store, in the same run. Target: the visit's
 * wall time at most 0.4x the one-after-another time.
 *
 * Twice: with the agents unbounded (they share this machine's cores with the laptop's
 * worker, which a site's Pis do not), and with each agent held to a quarter of a core by
 * a cgroup (cpu.cfs_quota_us), about what a Pi 4 gives a pull: the case a visit is for.
 */
import { mkdirSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createAppServices, type AppServices } from '../electron/app/appServices.ts';
import { SiteVisitResultSchema } from '../shared/siteVisit.ts';
import { ingestWithAgentCli, syntheticEvents } from '../test/support/agentEvents.ts';
import { installTestAgent, type TestAgentInstall } from '../test/support/installTestAgent.ts';
import { makeTempDir } from '../test/support/tempDir.ts';

const devices = 8;
const perDevice = 100_000;
const parallel = 4;

const cpuCgroupRoot = '/sys/fs/cgroup/cpu';

/** A cgroup (v1 cpu controller) holding each process put in it to `share` of one core; null when this machine cannot. */
function cpuLimit(name: string, share: number): { path: string; remove(): void } | null {
  const path = join(cpuCgroupRoot, name);
  try {
    mkdirSync(path, { recursive: true });
    writeFileSync(join(path, 'cpu.cfs_period_us'), '100000');
    writeFileSync(join(path, 'cpu.cfs_quota_us'), String(Math.round(100_000 * share)));
    return {
      path,
      remove: () => {
        try {
          rmdirSync(path);
        } catch {
          // An agent still inside (it exits when its session closes): left for the next run, which reuses it.
        }
      },
    };
  } catch {
    return null;
  }
}

async function addDevices(services: AppServices, agents: readonly TestAgentInstall[], limits: readonly ({ path: string } | null)[]): Promise<string[]> {
  const ids: string[] = [];
  for (const [i, agent] of agents.entries()) {
    const limit = limits[i];
    const enter = limit === null || limit === undefined ? '' : `echo $$ > ${join(limit.path, 'cgroup.procs')} && exec `;
    const command = `${enter}${join(agent.prefix, 'current', 'bin', 'fieldkit-agent')} rpc`;
    const { device } = await services.handlers['devices.add']({ name: agent.deviceId, site: 'bench', link: { kind: 'local', agentCommand: command } });
    ids.push(device.id);
  }
  return ids;
}

export async function benchSiteVisit(): Promise<void> {
  const dir = makeTempDir('fieldkit-bench-visit-');
  const agents = await Promise.all(Array.from({ length: devices }, (_, i) => installTestAgent({ deviceId: `visit-pi-${String(i + 1).padStart(2, '0')}` })));
  try {
    for (const agent of agents) {
      const launcher = join(agent.prefix, 'current', 'bin', 'fieldkit-agent');
      for (let done = 0; done < perDevice; done += 50_000) ingestWithAgentCli(launcher, syntheticEvents(50_000, { payloadBytes: 200 }));
    }

    await measure(dir.path, 'unbounded', agents, agents.map(() => null));
    const limits = agents.map((a) => cpuLimit(`fieldkit-bench-${a.deviceId}`, 0.25));
    try {
      if (limits.every((l) => l !== null)) await measure(dir.path, 'each agent held to 1/4 core (Pi-like)', agents, limits);
      else console.log(`  (no Pi-like figure: cannot make cpu cgroups under ${cpuCgroupRoot} here; run as root on a host with the v1 cpu controller)`);
    } finally {
      for (const limit of limits) limit?.remove();
    }
  } finally {
    for (const agent of agents) agent.remove();
    dir.remove();
  }
}

async function measure(root: string, label: string, agents: readonly TestAgentInstall[], limits: readonly ({ path: string } | null)[]): Promise<void> {
  const dir = join(root, label.replace(/[^a-z0-9]+/gi, '-'));
  const one = await createAppServices({ dataDir: join(dir, 'one-by-one'), version: 'bench' });
  let sequentialSeconds: number;
  try {
    const ids = await addDevices(one, agents, limits);
    const start = performance.now();
    for (const id of ids) {
      const record = await one.jobs.whenFinished((await one.handlers['courier.pull']({ id })).jobId);
      if (record.state !== 'done') throw new Error(`pull ${record.state}: ${record.error?.message ?? ''}`);
    }
    sequentialSeconds = (performance.now() - start) / 1000;
  } finally {
    await one.close();
  }

  const visit = await createAppServices({ dataDir: join(dir, 'visit'), version: 'bench' });
  let visitSeconds: number;
  let stored: number;
  try {
    await addDevices(visit, agents, limits);
    const start = performance.now();
    const record = await visit.jobs.whenFinished((await visit.handlers['courier.visit']({ site: 'bench', parallel })).jobId);
    visitSeconds = (performance.now() - start) / 1000;
    if (record.state !== 'done') throw new Error(`visit ${record.state}: ${record.error?.message ?? ''}`);
    stored = SiteVisitResultSchema.parse(record.result).newRecords;
  } finally {
    await visit.close();
  }

  const total = devices * perDevice;
  const rate = (s: number) => `${Math.round(total / s).toLocaleString('en-US')} records/s`;
  console.log(`site visit, ${devices} devices x ${perDevice.toLocaleString('en-US')} records, local agents, ${label}:`);
  console.log(`  single pulls one after another  ${sequentialSeconds.toFixed(1).padStart(6)} s  ${rate(sequentialSeconds).padStart(20)}  (baseline)`);
  console.log(`  fieldkit pull --site, ${parallel} at once ${visitSeconds.toFixed(1).padStart(6)} s  ${rate(visitSeconds).padStart(20)}  = ${(visitSeconds / sequentialSeconds).toFixed(2)}x the wall time (target <= 0.4x; ${stored.toLocaleString('en-US')} stored)`);
}
