/**
 * Nudges for the drive watcher: on Linux the kernel's devtmpfs creates and removes block
 * device nodes in /dev as drives come and go, and inotify sees that at once. Polling
 * stays the backstop (a card in a reader, a loop attach and a resize make no node), so
 * this only makes the common case — a USB stick or reader plugged in or pulled — show
 * in a fraction of a second instead of up to one poll later.
 */
import { watch, type FSWatcher } from 'node:fs';

/** Names of whole disks and partitions; serial ports and the rest of /dev are ignored. */
const blockNode = /^(sd[a-z]|hd[a-z]|vd[a-z]|xvd[a-z]|mmcblk\d|nvme\d|zram\d|loop\d|nbd\d|md\d|sr\d|dm-\d)/;

/** Calls `onNudge` (debounced) when a block device node appears or goes; returns a stop. */
export function watchDeviceNodes(onNudge: () => void, options: { dir?: string; debounceMs?: number } = {}): () => void {
  if (process.platform !== 'linux' && options.dir === undefined) return () => undefined;
  const debounceMs = options.debounceMs ?? 100;
  let timer: NodeJS.Timeout | null = null;
  let watcher: FSWatcher;
  try {
    watcher = watch(options.dir ?? '/dev', { persistent: false }, (_event, name) => {
      if (name !== null && !blockNode.test(name)) return;
      if (timer) clearTimeout(timer);
      timer = setTimeout(() => {
        timer = null;
        onNudge();
      }, debounceMs);
      timer.unref();
    });
  } catch {
    // No inotify (a container without /dev, a watch limit reached): polling still works.
    return () => undefined;
  }
  watcher.on('error', () => { watcher.close(); });
  return () => {
    if (timer) clearTimeout(timer);
    watcher.close();
  };
}
