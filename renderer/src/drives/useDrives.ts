import { useState } from 'react';
import type { Drive } from '../../../shared/drives.ts';
import { useApi, useEvent, type ApiQuery } from '../api/hooks.ts';

type Pushed = { drives: Drive[]; after: unknown };

/**
 * The attached drives, live: listed on mount and after a reconnect, then replaced by
 * every `drives.changed`. Whichever arrived last wins: a pushed list is shown until a
 * newer `drives.list` answer replaces the one it was pushed after.
 */
export function useDrives(): ApiQuery<Drive[]> {
  const listed = useApi('drives.list', {});
  const [pushed, setPushed] = useState<Pushed | null>(null);
  useEvent('drives.changed', ({ drives }) => {
    setPushed({ drives, after: listed.value });
  });
  const drives = pushed !== null && pushed.after === listed.value ? pushed.drives : (listed.value?.drives ?? null);
  return { ...listed, value: drives };
}
