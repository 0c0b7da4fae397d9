/**
 * Follows a job in the terminal: a progress bar with rate and ETA (plain lines when not
 * a terminal, NDJSON events with --json), the job's info and warning lines; Ctrl-C cancels
 * the job and waits for it to stop cleanly, a second Ctrl-C leaves at once.
 */
import { MultiBar, SingleBar, type SingleBar as Bar } from 'cli-progress';
import { formatBytes, formatDuration, formatRate } from '../../../shared/format.ts';
import type { FlashTargetProgress } from '../../../shared/flash.ts';
import type { JobEvent, JobProgress, JobRecord } from '../../../shared/jobs.ts';
import type { EventBus } from '../api/eventBus.ts';
import type { JobRunner } from '../jobs/jobRunner.ts';
import type { CliIo } from './cliIo.ts';

export async function followJob(jobId: string, deps: { events: EventBus; jobs: JobRunner; io: CliIo; json: boolean }): Promise<JobRecord> {
  const { io, json } = deps;
  const bar = !json && io.interactive
    ? new SingleBar({
        format: ' {phase} [{bar}] {percentage}% | {done} of {total_text} | {rate} | ETA {eta_text}',
        hideCursor: true,
        stream: process.stderr,
        barsize: 30,
      })
    : null;
  let lastLine = 0;
  const drives = json ? null : createDriveBars(io);
  const unsubscribe = deps.events.subscribe((name, payload) => {
    if (name !== 'job.event') return;
    const event = payload as JobEvent;
    if (event.jobId !== jobId) return;
    if (json) {
      io.stdout(JSON.stringify(event) + '\n');
      return;
    }
    // An error-level line is what the job ends with (a drive's result, why a rollout stopped,
    // a slot update's outcome): the command's final report says it, once.
    if (event.type === 'log' && event.level === 'error') return;
    if (event.type === 'log') {
      // Above the per-drive bars, which keep drawing; a single bar stops for it.
      if (drives?.log(`${event.level}: ${event.message}\n`) === true) return;
      if (bar) bar.stop();
      io.stderr(`${event.level}: ${event.message}\n`);
    }
    if (event.type !== 'progress') return;
    const p = event.progress;
    if (p.targets !== undefined && drives !== null) {
      drives.update(p.targets, event.at);
      return;
    }
    const values = {
      phase: p.phase,
      done: progressAmount(p.bytesDone, p.unit),
      total_text: p.bytesTotal === null ? '?' : progressAmount(p.bytesTotal, p.unit),
      // A site visit counts records; the bytes that carried them and their rate go beside.
      rate: p.visit === undefined ? progressRate(p) : `${progressRate(p)} | ${formatBytes(p.visit.bytes)}, ${formatRate(p.visit.bytesPerSec)}`,
      eta_text: formatDuration(p.etaSeconds),
    };
    if (bar) {
      if (!bar.isActive) bar.start(p.bytesTotal ?? 0, p.bytesDone, values);
      bar.update(p.bytesDone, values);
    } else if (event.at - lastLine >= 2000) {
      lastLine = event.at;
      io.stderr(`${values.phase}: ${values.done} of ${values.total_text}, ${values.rate}, ETA ${values.eta_text}\n`);
    }
  });
  let interrupts = 0;
  const onInterrupt = () => {
    interrupts++;
    if (interrupts > 1) process.exit(130);
    io.stderr('\nCancelling… (press Ctrl-C again to leave without waiting)\n');
    void deps.jobs.cancel(jobId, 'cancelled with Ctrl-C').catch(() => undefined);
  };
  process.on('SIGINT', onInterrupt);
  try {
    return await deps.jobs.whenFinished(jobId);
  } finally {
    process.off('SIGINT', onInterrupt);
    bar?.stop();
    drives?.stop();
    unsubscribe();
  }
}

/** A progress figure in its unit: "20.0 kB" for bytes, "20,000" for items (records, hosts…). */
export function progressAmount(n: number, unit: JobProgress['unit']): string {
  return unit === 'items' ? n.toLocaleString('en-US') : formatBytes(n);
}

function progressRate(p: JobProgress): string {
  if (p.unit === 'bytes') return formatRate(p.rateBytesPerSec);
  return p.rateBytesPerSec === null ? '—' : `${Math.round(p.rateBytesPerSec).toLocaleString('en-US')}/s`;
}

/** "pulling, 20,000 of 60,000, 5,000/s" or "writing, 1.2 GB of 3.9 GB, 42.0 MB/s": a job's progress by its unit (jobs show). */
export function progressText(p: JobProgress): string {
  return `${p.phase}, ${progressAmount(p.bytesDone, p.unit)}${p.bytesTotal === null ? '' : ` of ${progressAmount(p.bytesTotal, p.unit)}`}, ${progressRate(p)}`;
}

const stateWords: Record<FlashTargetProgress['state'], string> = {
  queued: 'queued',
  preparing: 'unmounting',
  checking: 'checking',
  writing: 'writing',
  verifying: 'verifying',
  customising: 'identity',
  ejecting: 'ejecting',
  success: 'done',
  incomplete: 'INCOMPLETE',
  refused: 'refused',
};

/**
 * One progress bar per drive of a flash (state, bytes, MB/s, ETA); plain lines when stderr
 * is not a terminal: one per drive on each state change, and every 2 s while bytes move.
 */
function createDriveBars(io: CliIo): { update(targets: readonly FlashTargetProgress[], at: number): void; log(line: string): boolean; stop(): void } {
  const multi = io.interactive
    ? new MultiBar({ format: ' {device} {state} [{bar}] {percentage}% | {done} of {total_text} | {rate} | ETA {eta_text}', hideCursor: true, stream: process.stderr, barsize: 24, clearOnComplete: false })
    : null;
  const bars = new Map<string, Bar>();
  const lastState = new Map<string, string>();
  let lastLine = 0;
  const width = (targets: readonly FlashTargetProgress[]): number => Math.max(...targets.map((t) => t.device.length));
  return {
    update(targets, at) {
      const pad = width(targets);
      const due = at - lastLine >= 2000;
      if (due) lastLine = at;
      for (const t of targets) {
        const values = {
          device: t.device.padEnd(pad),
          state: stateWords[t.state].padEnd(10),
          done: formatBytes(t.bytesDone),
          total_text: t.bytesTotal === null ? '?' : formatBytes(t.bytesTotal),
          rate: formatRate(t.rateBytesPerSec),
          eta_text: formatDuration(t.etaSeconds),
        };
        if (multi !== null) {
          const existing = bars.get(t.device);
          const bar = existing ?? multi.create(t.bytesTotal ?? 0, t.bytesDone, values);
          if (existing === undefined) bars.set(t.device, bar);
          bar.setTotal(t.bytesTotal ?? Math.max(1, t.bytesDone));
          bar.update(t.bytesDone, values);
          continue;
        }
        const changed = lastState.get(t.device) !== t.state;
        lastState.set(t.device, t.state);
        if (changed || (due && (t.state === 'writing' || t.state === 'verifying'))) {
          io.stderr(`${t.device}: ${stateWords[t.state]}${t.bytesTotal === null ? '' : `, ${values.done} of ${values.total_text}, ${values.rate}, ETA ${values.eta_text}`}\n`);
        }
      }
    },
    log(line) {
      if (multi === null || bars.size === 0) return false;
      multi.log(line);
      // Logged lines are printed at the next redraw; force one so none is lost at the end.
      multi.update();
      return true;
    },
    stop() {
      multi?.stop();
    },
  };
}
