/**
 * Images the technician inspected or flashed, offered first by the Flash screen's picker.
 * The only code that reads or writes recent_images.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import type { Store } from '../kernel/store/openStore.ts';

/** How many picked images the store keeps; the picker shows the ones still on disk. */
const keptRecentImages = 12;

const RecentRowSchema = z.object({ path: z.string() });

/**
 * Remembers that the technician picked (inspected or flashed) the image at `imagePath`, so
 * the picker offers it first next time. Keeps the newest few.
 */
export function rememberRecentImage(db: Store, imagePath: string, now: number = Date.now()): void {
  const absolute = path.resolve(imagePath);
  db.transaction(() => {
    db.prepare('INSERT INTO recent_images (path, used_ms) VALUES (?, ?) ON CONFLICT (path) DO UPDATE SET used_ms = excluded.used_ms').run(absolute, now);
    db.prepare('DELETE FROM recent_images WHERE path NOT IN (SELECT path FROM recent_images ORDER BY used_ms DESC LIMIT ?)').run(keptRecentImages);
  })();
}

/** Remembered images, newest first, that are still on disk. */
export function recentImages(db: Store): string[] {
  return db
    .prepare('SELECT path FROM recent_images ORDER BY used_ms DESC')
    .all()
    .map((row) => RecentRowSchema.parse(row).path)
    .filter((p) => existsSync(p));
}
