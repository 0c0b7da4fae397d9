/**
 * The flash settings (whether unsigned images may be flashed), kept in the store's meta table.
 */
import type { FlashSettings } from '../../shared/trust.ts';
import { FlashSettingsSchema } from '../../shared/trust.ts';
import type { Store } from '../kernel/store/openStore.ts';

const FLASH_SETTINGS_KEY = 'settings.flash';

export function loadFlashSettings(db: Store): FlashSettings {
  const row = db.prepare(`SELECT value FROM meta WHERE key = ?`).get(FLASH_SETTINGS_KEY) as { value: string } | undefined;
  // Anything unreadable means the safe default: unsigned images refused.
  if (row === undefined) return { allowUnsigned: false };
  try {
    const parsed = FlashSettingsSchema.safeParse(JSON.parse(row.value));
    return parsed.success ? parsed.data : { allowUnsigned: false };
  } catch {
    return { allowUnsigned: false };
  }
}

export function saveFlashSettings(db: Store, settings: FlashSettings): FlashSettings {
  const checked = FlashSettingsSchema.parse(settings);
  db.prepare(`INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`).run(FLASH_SETTINGS_KEY, JSON.stringify(checked));
  return checked;
}
