/**
 * Runs `fn` over `items`, at most `limit` at once, in order of the list. When one rejects
 * (a cancel), no new item starts; the running ones are awaited (each cleans up its own
 * restic), then the first rejection is thrown.
 */
export async function runBounded<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  // Rejections so far (the first is thrown); an array, as lanes write it between awaits.
  const failures: unknown[] = [];
  const lane = async (): Promise<void> => {
    while (failures.length === 0) {
      const item = items[next];
      if (next >= items.length || item === undefined) return;
      next++;
      try {
        await fn(item);
      } catch (error) {
        failures.push(error);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, lane));
  if (failures.length > 0) throw failures[0];
}
