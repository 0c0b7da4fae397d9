/**
 * The flash settings (whether unsigned images may be flashed), kept in the store's meta table.
 */
import type { FlashSettings } from '../../shared/trust.ts';
import { FlashSettingsSchema } from '../../shared/trust.ts';
import { readMetaValue, writeMetaValue } from '../kernel/store/metaValues.ts';
import type { Store } from '../kernel/store/openStore.ts';

const FLASH_SETTINGS_KEY = 'settings.flash';

export function loadFlashSettings(db: Store): FlashSettings {
  const saved = readMetaValue(db, FLASH_SETTINGS_KEY);
  // Anything unreadable means the safe default: unsigned images refused.
  if (saved === null) return { allowUnsigned: false };
  try {
    const parsed = FlashSettingsSchema.safeParse(JSON.parse(saved));
    return parsed.success ? parsed.data : { allowUnsigned: false };
  } catch {
    return { allowUnsigned: false };
  }
}

export function saveFlashSettings(db: Store, settings: FlashSettings): FlashSettings {
  const checked = FlashSettingsSchema.parse(settings);
  writeMetaValue(db, FLASH_SETTINGS_KEY, JSON.stringify(checked));
  return checked;
}
