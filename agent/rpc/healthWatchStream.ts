/**
 * `health.watch`: live samples for a watching laptop. A live view wants the newest sample,
 * not a backlog, so while the laptop has no credit (or the link is slow) older samples are
 * replaced by newer ones instead of queueing. Ends only when cancelled or the link closes.
 */
import type { AgentParsedRequestOf, AgentResponseOf } from '../../shared/agentRpc.ts';
import type { HealthSample } from '../../shared/health.ts';
import type { HealthSource } from '../health/healthApi.ts';
import type { StreamControl } from './streamControl.ts';

export async function streamHealthWatch(
  health: HealthSource,
  params: AgentParsedRequestOf<'health.watch'>,
  control: StreamControl,
): Promise<AgentResponseOf<'health.watch'>> {
  let latest: HealthSample | null = null;
  let samples = 0;
  const stop = health.watch(params.interval_ms, (sample) => {
    latest = sample;
    control.wake();
  });
  // The watcher's callback sets `latest` between awaits; read it through a function so
  // the type checker does not assume it unchanged.
  const take = (): HealthSample | null => {
    const sample = latest;
    latest = null;
    return sample;
  };
  const waiting = (): boolean => latest === null;
  try {
    while (!control.stopped) {
      if (waiting() || control.credit <= 0) {
        await control.changed();
        continue;
      }
      if (!(await control.slot())) break;
      // Read after the wait: a newer sample may have arrived meanwhile.
      const sample = take();
      if (sample === null) continue;
      control.send(sample);
      samples++;
    }
  } finally {
    stop();
  }
  return { samples };
}
