/**
 * Waiting on a condition instead of sleeping: a test that sleeps "long enough" is slow when
 * the machine is idle and flaky when it is loaded. Poll what the app exposes (a store row,
 * an API answer, a process) until it holds, and fail with what was awaited when it does not.
 */
import { readdirSync, readFileSync } from 'node:fs';

export type WaitForOptions = {
  /** Give up after this long (measured from the call). */
  timeoutMs: number;
  /** What is awaited, for the error: "every demo journal to hold 10 records". */
  what: string;
  /** Between two checks (default 50 ms). */
  intervalMs?: number;
};

/**
 * Resolves with the first truthy value `condition` returns; rejects with `what` (and the last
 * error the condition threw, if any) once `timeoutMs` has passed without one.
 */
export async function waitFor<T>(condition: () => T | Promise<T>, options: WaitForOptions): Promise<NonNullable<T>> {
  const deadline = Date.now() + options.timeoutMs;
  let lastError: string | null = null;
  for (;;) {
    try {
      const value = await condition();
      if (value !== null && value !== undefined && value !== false) return value;
    } catch (error) {
      // Not there yet (a row not written, a server not listening): kept for the timeout's message.
      lastError = error instanceof Error ? error.message : JSON.stringify(error);
    }
    if (Date.now() >= deadline) {
      const why = lastError === null ? '' : ` (last error: ${lastError})`;
      throw new Error(`Timed out after ${String(options.timeoutMs)} ms waiting for ${options.what}${why}`);
    }
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 50));
  }
}

/** The state letter of /proc/<pid>/stat (R, S, Z …), null when there is no such process. */
function processState(pid: number): { state: string; ppid: number } | null {
  try {
    const stat = readFileSync(`/proc/${String(pid)}/stat`, 'utf8');
    // "pid (comm) state ppid …": comm may hold spaces and parentheses, so split after the last ')'.
    const [state = '', ppid = ''] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state, ppid: Number(ppid) };
  } catch {
    return null;
  }
}

/** True while `pid` runs; a zombie (exited, not yet reaped by its new parent) has stopped. */
export function isProcessRunning(pid: number): boolean {
  const found = processState(pid);
  return found !== null && found.state !== 'Z' && found.state !== 'X';
}

/** The pids whose parent is `pid` (Linux /proc). A killed parent's children are re-parented: read them first. */
export function childPids(pid: number): number[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map(Number)
    .filter((child) => processState(child)?.ppid === pid);
}
