/**
 * Rollouts, kept current while the Deploy screen is open. The rollout job writes each
 * device's progress to the store from its worker; the window hears about it through the
 * job's own events (a log line per device result, progress per device) and refetches, at
 * most a few times a second.
 */
import { useEffect, useRef } from 'react';
import type { Rollout } from '../../../shared/deploy.ts';
import { useApi, useEvent, type ApiQuery } from '../api/hooks.ts';
import { useJobStore } from '../jobs/useJobs.ts';

const refetchEveryMs = 400;

/** Calls `reload` after events, no more often than every `refetchEveryMs`, and once more after the last. */
function useThrottledReload(reload: () => void): () => void {
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);
  const last = useRef(0);
  useEffect(
    () => () => {
      if (timer.current !== null) clearTimeout(timer.current);
    },
    [],
  );
  return () => {
    if (timer.current !== null) return;
    const wait = Math.max(0, last.current + refetchEveryMs - Date.now());
    timer.current = setTimeout(() => {
      timer.current = null;
      last.current = Date.now();
      reload();
    }, wait);
  };
}

/** Every rollout, newest first (without transcripts); refetched as rollout jobs move. */
export function useRolloutList(): ApiQuery<Rollout[]> {
  const list = useApi('deploy.list', {});
  const store = useJobStore();
  const reload = useThrottledReload(list.reload);
  useEvent('job.event', (event) => {
    const kind = event.type === 'started' ? event.kind : store.get(event.jobId)?.kind;
    if (kind === undefined || kind === 'deploy.rollout') reload();
  });
  return { ...list, value: list.value?.rollouts ?? null };
}

/** One rollout in full (transcripts too); refetched while its job runs. */
export function useRollout(rolloutId: string): ApiQuery<Rollout> {
  const one = useApi('deploy.get', { rolloutId });
  const store = useJobStore();
  const reload = useThrottledReload(one.reload);
  const jobId = one.value?.rollout.jobId ?? null;
  useEvent('job.event', (event) => {
    if (event.jobId === jobId || (event.type === 'started' && event.kind === 'deploy.rollout') || store.get(event.jobId)?.kind === 'deploy.rollout') reload();
  });
  return { ...one, value: one.value?.rollout ?? null };
}
