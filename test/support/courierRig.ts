/**
 * A courier with real journals to forward: a real agent installed in a temp prefix, fed
 * through its own CLI, reached over the Local link, pulled into a fresh data folder by the
 * app's own services. Forward tests point it at a ClickHouse and read the laptop store
 * and the server independently.
 */
import Database from 'better-sqlite3';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { dispatch } from '../../electron/kernel/api/dispatch.ts';
import { createAppServices, type AppServices } from '../../electron/app/appServices.ts';
import { storeFileName } from '../../electron/kernel/store/openStore.ts';
import type { RequestOf } from '../../shared/api.ts';
import type { JobRecord } from '../../shared/jobs.ts';
import { ingestWithAgentCli, syntheticEvents } from './agentEvents.ts';
import { installTestAgent, type TestAgentInstall } from './installTestAgent.ts';
import { makeTempDir } from './tempDir.ts';

export type CourierRig = {
  dataDir: string;
  services: AppServices;
  agent: TestAgentInstall;
  deviceRef: string;
  launcher: string;
  ingest(ndjson: string): void;
  pull(): Promise<JobRecord>;
  forward(request?: RequestOf<'courier.forward'>): Promise<JobRecord>;
  /** The laptop store, read by a separate connection (as another process would). */
  held(): { n: number; forwarded: number; pending: number; quarantined: number };
  /** The agent's own view (fieldkit-agent status --json). */
  agentJournal(): { last_seq: number; forwarded_seq: number; first_seq: number; losses: number };
  close(): Promise<void>;
};

export async function startCourierRig(options: { deviceId: string; agentConfig?: Record<string, unknown>; site?: string }): Promise<CourierRig> {
  const dir = makeTempDir('fieldkit-courier-');
  const dataDir = join(dir.path, 'data');
  const agent = await installTestAgent({ deviceId: options.deviceId, ...(options.agentConfig ? { config: options.agentConfig } : {}) });
  const services = await createAppServices({ dataDir, version: 'test' });
  const launcher = join(agent.prefix, 'current', 'bin', 'fieldkit-agent');
  const { device } = await services.handlers['devices.add']({ name: options.deviceId, site: options.site ?? 'depot', link: { kind: 'local', agentCommand: `${launcher} rpc` } });

  function read(sql: string): unknown {
    const db = new Database(join(dataDir, storeFileName), { readonly: true });
    try {
      return db.prepare(sql).get();
    } finally {
      db.close();
    }
  }

  return {
    dataDir,
    services,
    agent,
    deviceRef: device.id,
    launcher,
    ingest: (ndjson) => {
      ingestWithAgentCli(launcher, ndjson);
    },
    async pull() {
      const { jobId } = await services.handlers['courier.pull']({ id: device.id });
      return services.jobs.whenFinished(jobId);
    },
    async forward(request = {}) {
      // Through the dispatcher, as every carrier calls it: the contract's defaults apply.
      const started = await dispatch(services.handlers, 'courier.forward', request);
      if (!started.ok) throw new Error(`courier.forward: ${started.error.message}`);
      return services.jobs.whenFinished((started.value as { jobId: string }).jobId);
    },
    held: () => {
      const row = read(
        `SELECT count(*) AS n, sum(forwarded_ms IS NOT NULL) AS forwarded, sum(forwarded_ms IS NULL AND quarantine_state IS NULL) AS pending, sum(quarantine_state IS NOT NULL) AS quarantined FROM courier_records`,
      ) as { n: number; forwarded: number | null; pending: number | null; quarantined: number | null };
      return { n: row.n, forwarded: row.forwarded ?? 0, pending: row.pending ?? 0, quarantined: row.quarantined ?? 0 };
    },
    agentJournal: () => {
      const out = execFileSync(launcher, ['status', '--json'], { encoding: 'utf8' });
      const status = JSON.parse(out) as { journal: { last_seq: number; forwarded_seq: number; first_seq: number }; losses: unknown[] };
      return { ...status.journal, losses: status.losses.length };
    },
    async close() {
      await services.close();
      agent.remove();
      dir.remove();
    },
  };
}

/** Events whose n-th (0-based) entries get the given kinds: a way to plant a record the server will refuse. */
export function eventsWithKinds(count: number, kinds: Record<number, string>, startMs = Date.now() - count * 10): string {
  return syntheticEvents(count, { startMs })
    .trimEnd()
    .split('\n')
    .map((line, i) => {
      const kind = kinds[i];
      if (kind === undefined) return line;
      const event = JSON.parse(line) as Record<string, unknown>;
      return JSON.stringify({ ...event, kind, priority: 3 });
    })
    .join('\n') + '\n';
}
