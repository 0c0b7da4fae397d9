/**
 * A site visit's progress: one line per device, and the overall figures over all of them
 * (records of the total the devices reported, bytes received, the byte rate over a recent
 * window). Every change is sent as the job's progress; the runner throttles what it emits.
 */
import type { VisitDeviceLine } from '../../shared/siteVisit.ts';
import type { JobContext } from '../kernel/jobs/jobContext.ts';

const rateWindowMs = 3000;

export type VisitTracker = {
  line(ref: string): VisitDeviceLine;
  update(ref: string, patch: Partial<Omit<VisitDeviceLine, 'deviceRef' | 'name' | 'site'>>): void;
  setPhase(phase: string): void;
  lines(): VisitDeviceLine[];
};

export function createVisitTracker(
  devices: readonly { deviceRef: string; name: string; site: string }[],
  options: { parallel: number; inFlight: () => number; ctx: Pick<JobContext, 'progress'> },
): VisitTracker {
  const lines = new Map<string, VisitDeviceLine>(
    devices.map((d) => [d.deviceRef, { deviceRef: d.deviceRef, name: d.name, site: d.site, state: 'waiting', records: 0, recordsTotal: null, bytes: 0, attempt: 0, note: null }]),
  );
  let phase = 'safety events of every device';
  let samples: { at: number; bytes: number }[] = [];

  function emit(): void {
    const all = [...lines.values()];
    const bytes = all.reduce((n, l) => n + l.bytes, 0);
    const now = Date.now();
    samples.push({ at: now, bytes });
    while (samples.length > 2 && (samples[0]?.at ?? now) < now - rateWindowMs) samples.shift();
    const first = samples[0];
    const elapsed = first === undefined ? 0 : now - first.at;
    const bytesPerSec = first !== undefined && elapsed >= 200 ? ((bytes - first.bytes) * 1000) / elapsed : null;
    // A device that failed or was never reached no longer counts toward the total: the ETA is for what can still arrive.
    const open = all.filter((l) => l.state !== 'failed' && l.state !== 'cancelled');
    const total = open.some((l) => l.recordsTotal === null) ? null : open.reduce((n, l) => n + (l.recordsTotal ?? 0), 0) + all.filter((l) => !open.includes(l)).reduce((n, l) => n + l.records, 0);
    const done = all.reduce((n, l) => n + l.records, 0);
    options.ctx.progress({
      phase,
      bytesDone: done,
      bytesTotal: total === null ? null : Math.max(total, done),
      unit: 'items',
      visit: { parallel: options.parallel, inFlight: options.inFlight(), bytes, bytesPerSec, devices: all },
    });
  }

  return {
    line(ref) {
      const line = lines.get(ref);
      if (line === undefined) throw new Error(`no visit line for ${ref}`);
      return line;
    },
    update(ref, patch) {
      const line = lines.get(ref);
      if (line === undefined) return;
      lines.set(ref, { ...line, ...patch });
      emit();
    },
    setPhase(next) {
      phase = next;
      samples = [];
      emit();
    },
    lines: () => [...lines.values()],
  };
}
