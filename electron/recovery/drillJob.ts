/**
 * The recovery.drill job: a device's restore point put onto a spare, the spare's services
 * started and checked exactly as after a real restore, compared with what the laptop last
 * knew of the source, and measured: RTO (start to healthy, split per step) and RPO (age of the
 * restored state, records after it). The source is never contacted: nothing here opens a
 * link to it (its figures come from the laptop's store, passed in the params).
 *
 * The spare keeps its own SSH host keys and hostname (so the laptop's pinned key for it still
 * holds, and it never answers as the source on the network) and its own ingest and uplink
 * settings (it must not forward the source's telemetry); everything else is restored. Its
 * agent never writes the source's journal, and is stopped and disabled at the end
 * (drillSpare.ts): it answers as the source.
 */
import { formatBytes } from '../../shared/format.ts';
import type { HealthSample } from '../../shared/health.ts';
import { appError } from '../../shared/errors.ts';
import type { DrillResult, RecoveryCheck, Rpo } from '../../shared/recovery.ts';
import { openDeviceLink } from '../devices/index.ts';
import { JobCancelledError, JobFailedError, type JobContext } from '../kernel/jobs/jobContext.ts';
import { loadOrCreateAppSshKey } from '../kernel/link/appSshKey.ts';
import type { Link } from '../kernel/link/linkApi.ts';
import { restoreTargetFor, serviceTargetFor } from './deviceTarget.ts';
import { retireSpare, setRestoredJournalAside, type DrillJournal } from './drillSpare.ts';
import type { DrillParams, SourceKnown } from './jobParams.ts';
import { errorOf, jobSteps, recordRun, sourceOf } from './jobParts.ts';
import { restoreOnto } from './restoreOnto.ts';
import { verifyService } from './verifyService.ts';

/** What a spare keeps of its own (see above). */
export const spareKeepsPaths = ['/etc/ssh', '/etc/hostname', '/etc/hosts'];
export const spareKeepsConfig = ['ingest', 'mqtt', 'uplink'];

type Comparison = DrillResult['comparison'][number];

function compare(source: SourceKnown, sample: HealthSample | null, agentVersion: string | null): Comparison[] {
  const temp = (c: number | null | undefined) => (c == null ? null : `${c.toFixed(1)} °C`);
  const m = source.lastMinute;
  return [
    { metric: 'agent version', source: source.agentVersion, restored: agentVersion, ok: source.agentVersion === null || source.agentVersion === agentVersion },
    // A hello says '' for "no model", a health sample null; the source's null is "never contacted".
    { metric: 'model version', source: source.modelVersion, restored: sample?.model_version ?? null, ok: source.modelVersion === null || (source.modelVersion === '' ? null : source.modelVersion) === (sample?.model_version ?? null) },
    { metric: 'temperature', source: temp(m?.temp_c_max), restored: temp(sample?.temp_c), ok: true },
    { metric: 'cpu', source: m?.cpu_pct_avg == null ? null : `${m.cpu_pct_avg.toFixed(0)} %`, restored: sample?.cpu_pct == null ? null : `${sample.cpu_pct.toFixed(0)} %`, ok: true },
    { metric: 'memory available', source: m?.mem_available_min_bytes == null ? null : formatBytes(m.mem_available_min_bytes), restored: sample === null ? null : formatBytes(sample.mem_available_bytes), ok: true },
  ];
}

function rpoOf(params: DrillParams, startedAt: number): Rpo {
  const state = params.point.classes.find((c) => c.class === 'state');
  const restoredStateAt = state?.time ?? params.point.time;
  const seq = state?.journalLastSeq ?? null;
  const after = (known: number | null) => (known === null || seq === null ? null : Math.max(0, known - seq));
  return { restoredStateAt, ageSeconds: Math.max(0, (startedAt - restoredStateAt) / 1000), restoredJournalSeq: seq, recordsAfterOnLaptop: after(params.source.laptopHeldSeq), recordsAfterOnDevice: after(params.source.deviceLastSeq) };
}

export async function runDrill(params: DrillParams, ctx: JobContext): Promise<DrillResult> {
  const startedAt = Date.now();
  const steps = jobSteps(ctx);
  const { device, spare } = params;
  let link: Link | null = null;
  let checks: RecoveryCheck[] = [];
  let comparison: Comparison[] = [];
  let failure: unknown = null;
  let healthyAt: number | null = null;
  // Set from the restore's hooks: whether the spare was changed, and its drill journal.
  const left: { touched: boolean; journal: DrillJournal | null } = { touched: false, journal: null };
  const classes = params.point.classes.map((c) => c.class);
  try {
    const source = sourceOf(params.point, params.dataDir, ctx.secrets);
    const opened = await steps.step('connect', `Connect to the spare ${spare.name}`, async (cmd) => {
      const l = await openDeviceLink(spare, { appKey: loadOrCreateAppSshKey(params.dataDir) });
      cmd.detail(l.describe);
      return l;
    });
    link = opened;
    const service = serviceTargetFor(spare, opened);
    const onSpare = { name: spare.name, link: opened, deviceId: params.point.deviceId, agentAsService: service.agentAsService };
    await restoreOnto(source, restoreTargetFor(spare, opened, { expectedDeviceId: params.point.deviceId, keepPaths: spareKeepsPaths, keepConfig: spareKeepsConfig }), {
      classes,
      signal: ctx.signal,
      steps,
      afterStop: () => {
        left.touched = true;
        return Promise.resolve();
      },
      // The restored journal is the source's: the spare's agent must never write under it (drillSpare.ts).
      ...(classes.includes('state') ? { beforeStart: async () => { left.journal = await setRestoredJournalAside(steps, onSpare); } } : {}),
    });
    const expected = left.journal === null ? { journalId: null, journalLastSeq: null } : { journalId: left.journal.drillJournalId, journalLastSeq: 1 };
    const verdict = await verifyService(service, { deviceId: params.point.deviceId, ...expected, thresholds: params.thresholds }, steps, ctx.signal);
    checks = verdict.checks;
    if (checks.every((c) => c.ok)) healthyAt = Date.now();
    comparison = compare(params.source, verdict.sample, verdict.agentVersion);
  } catch (error) {
    failure = error;
  }
  try {
    // Whatever happened after the restore began, the spare now answers as the source: stop it.
    if (left.touched && link !== null) await retireSpare(steps, { name: spare.name, link, hasUnit: spare.link.kind !== 'local' }, { sourceName: device.name, sourceDeviceId: params.point.deviceId, journal: left.journal });
  } catch (error) {
    failure ??= error;
  } finally {
    await link?.close().catch(() => undefined);
  }
  const ok = failure === null && checks.every((c) => c.ok) && comparison.every((c) => c.ok);
  const appErr = failure === null ? null : errorOf(failure);
  const rto = (healthyAt ?? Date.now()) - startedAt;
  const rpo = rpoOf(params, startedAt);
  const recorded = recordRun(
    params.dataDir,
    { kind: 'drill', jobId: null, deviceRef: device.id, deviceName: device.name, targetRef: spare.id, targetName: spare.name, pointId: params.point.id, startedMs: startedAt, endedMs: Date.now(), ok, rtoMs: rto, rpoAgeSeconds: rpo.ageSeconds, error: appErr, result: { steps: steps.steps(), checks, comparison, rpo } },
    { kind: 'drill', deviceName: device.name, targetName: spare.name, pointId: params.point.id, pointTime: params.point.time, classes, startedAt, ok, error: appErr?.message ?? null, steps: steps.steps(), checks, rtoMs: rto, rpo, comparison },
    (level, message) => { ctx.log(level, message); },
  );
  const result: DrillResult = { deviceRef: device.id, deviceName: device.name, spareRef: spare.id, spareName: spare.name, pointId: params.point.id, classes, steps: steps.steps(), checks, comparison, rtoMs: rto, rpo, ok, runbookPath: recorded.runbookPath, recoveryRunId: recorded.id };
  if (failure instanceof JobCancelledError || ctx.signal.aborted) throw new JobCancelledError('cancelled', result);
  if (appErr !== null) throw new JobFailedError(appErr, result);
  if (!ok) {
    const bad = [...checks.filter((c) => !c.ok).map((c) => `${c.name} — ${c.detail}`), ...comparison.filter((c) => !c.ok).map((c) => `${c.metric}: source ${c.source ?? '?'}, restored ${c.restored ?? '?'}`)];
    throw new JobFailedError(appError('VERIFICATION_FAILED', `The drill of ${device.name} onto ${spare.name} failed its checks: ${bad.join('; ')}.`, `Read the runbook (${recorded.runbookPath ?? 'not written'}) and fix the backup before you need it.`), result);
  }
  return result;
}
