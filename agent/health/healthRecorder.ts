/**
 * Sampling on a timer, and (the daemon only) keeping what it sees: per-minute rows and
 * notable events in health.db. A failed history write is logged and sampling goes on:
 * a full disk must not stop health.
 */
import type { HealthEvent, HealthMinute, HealthSample } from '../../shared/health.ts';
import { openHealthHistoryWriter } from './healthHistory.ts';
import { createMinuteAccumulator, detectHealthEvents, initialConditionState } from './healthTimeline.ts';

type Log = (message: string) => void;

/** Samples every `intervalMs` (aligned to the clock, never overlapping) until the returned function is called. */
export function sampleLoop(sample: () => Promise<HealthSample>, log: Log, intervalMs: number, onSample: (s: HealthSample) => void): () => void {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const tick = (): void => {
    sample()
      .then((s) => {
        if (!stopped) onSample(s);
      })
      .catch((error: unknown) => {
        log(`health: sample failed: ${error instanceof Error ? error.message : String(error)}`);
      })
      .finally(() => {
        if (stopped) return;
        const wait = intervalMs - (Date.now() % intervalMs);
        timer = setTimeout(tick, wait);
        timer.unref();
      });
  };
  tick();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

export type RecorderOptions = {
  historyPath: string;
  intervalMs: number;
  agentVersion: string;
  now: () => number;
  log: Log;
  /** Starts sampling every `intervalMs`; returns the stop function. */
  watch: (intervalMs: number, onSample: (s: HealthSample) => void) => () => void;
};

export type HealthRecorder = { close: () => void };

/** Opens health.db, records the agent start, then writes each finished minute and each event. */
export function startRecording(options: RecorderOptions): HealthRecorder {
  const { log } = options;
  const writer = openHealthHistoryWriter(options.historyPath);
  const minutes = createMinuteAccumulator();
  const conditions = initialConditionState();
  const safely = (what: string, fn: () => void): void => {
    try {
      fn();
    } catch (error) {
      log(`health: could not ${what}: ${error instanceof Error ? error.message : String(error)}`);
    }
  };
  const startedAt = options.now();
  safely('record the agent start', () => {
    writer.addEvent({ at_ms: startedAt, kind: 'agent_start', detail: `fieldkit-agent ${options.agentVersion} started` });
    writer.prune(startedAt);
  });
  const stop = options.watch(options.intervalMs, (s) => {
    const finished: HealthMinute | null = minutes.add(s);
    if (finished !== null) {
      safely('write a history minute', () => {
        writer.writeMinute(finished);
        writer.prune(s.at_ms);
      });
    }
    const events: HealthEvent[] = detectHealthEvents(conditions, s);
    for (const event of events) safely('record a health event', () => { writer.addEvent(event); });
  });
  const flush = (): void => {
    const partial = minutes.current();
    if (partial !== null) safely('write the last history minute', () => { writer.writeMinute(partial); });
  };
  return {
    close() {
      stop();
      flush();
      writer.close();
    },
  };
}
