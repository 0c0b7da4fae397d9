/**
 * The demo's ClickHouse goes into Settings only where it cannot replace the technician's
 * own: when no ClickHouse is set yet, or when the one set is the demo's from an earlier
 * start (its port may have changed since).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { applyClickHouseSettingsPatch, loadClickHouseSettings, saveClickHouseSettings } from '../courier/index.ts';
import type { Store } from '../kernel/store/openStore.ts';

export type DemoSettingsOutcome = 'prefilled' | 'kept';

export function adoptDemoClickHouse(db: Store, url: string, demoDir: string): DemoSettingsOutcome {
  const marker = join(demoDir, 'clickhouse', 'settings-url');
  const current = loadClickHouseSettings(db);
  const earlierDemoUrl = existsSync(marker) ? readFileSync(marker, 'utf8').trim() : null;
  if (current !== null && current.url !== earlierDemoUrl) return 'kept';
  saveClickHouseSettings(db, applyClickHouseSettingsPatch(current, { url }));
  writeFileSync(marker, url);
  return 'prefilled';
}
