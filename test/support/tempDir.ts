/** A fresh folder per test, removed afterwards. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function makeTempDir(prefix = 'fieldkit-test-'): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => { rmSync(path, { recursive: true, force: true }); } };
}

/**
 * Temp folders made as a test needs them, all removed by one `removeAll()` (call it in the
 * test file's afterEach).
 */
export function tempDirs(prefix?: string): { make: () => string; removeAll: () => void } {
  const made: { remove(): void }[] = [];
  return {
    make: () => {
      const dir = makeTempDir(prefix);
      made.push(dir);
      return dir.path;
    },
    removeAll: () => {
      for (const dir of made.splice(0)) dir.remove();
    },
  };
}
