/** The settings.* methods of the app API. */
import { appError, FieldkitError } from '../../shared/errors.ts';
import type { ClickHouseSettings } from '../../shared/clickhouseSettings.ts';
import type { ApiHandlers } from '../api/dispatch.ts';
import { describeClickHouseFailure, openClickHouse } from '../courier/clickhouseConnection.ts';
import type { Store } from '../store/openStore.ts';
import {
  applyClickHouseSettingsPatch,
  CLICKHOUSE_PASSWORD_SECRET,
  clickHouseSettingsView,
  loadClickHouseSettings,
  saveClickHouseSettings,
} from './clickhouseSettingsStore.ts';
import type { SecretStore } from './secretStore.ts';

type SettingsMethods = 'settings.clickhouse.get' | 'settings.clickhouse.set' | 'settings.clickhouse.test';

/** The saved settings and password, or NOT_FOUND saying how to set them. */
export async function requireClickHouseTarget(db: Store, secrets: SecretStore): Promise<{ settings: ClickHouseSettings; password: string }> {
  const settings = loadClickHouseSettings(db);
  if (settings === null) {
    throw new FieldkitError(
      appError('NOT_FOUND', 'No ClickHouse server is set up yet.', 'Set one in Settings → ClickHouse, or: fieldkit settings clickhouse --url https://… --user … --password-stdin'),
    );
  }
  return { settings, password: (await secrets.get(CLICKHOUSE_PASSWORD_SECRET)) ?? '' };
}

export function createSettingsHandlers(deps: { db: Store; secrets: SecretStore }): Pick<ApiHandlers, SettingsMethods> {
  const { db, secrets } = deps;
  return {
    'settings.clickhouse.get': async () => {
      const settings = loadClickHouseSettings(db);
      if (settings === null) return { settings: null };
      return { settings: clickHouseSettingsView(settings, (await secrets.get(CLICKHOUSE_PASSWORD_SECRET)) !== null) };
    },
    'settings.clickhouse.set': async (patch) => {
      const next = applyClickHouseSettingsPatch(loadClickHouseSettings(db), patch);
      // The password first: settings that name a server whose password failed to save would mislead.
      if (patch.password === null) await secrets.delete(CLICKHOUSE_PASSWORD_SECRET);
      else if (patch.password !== undefined) await secrets.set(CLICKHOUSE_PASSWORD_SECRET, patch.password);
      saveClickHouseSettings(db, next);
      return { settings: clickHouseSettingsView(next, (await secrets.get(CLICKHOUSE_PASSWORD_SECRET)) !== null) };
    },
    'settings.clickhouse.test': async () => {
      const target = await requireClickHouseTarget(db, secrets);
      const connection = openClickHouse(target);
      const started = performance.now();
      try {
        const signal = AbortSignal.timeout(15_000);
        const version = await connection.serverVersion(signal);
        const roundTripMs = performance.now() - started;
        return {
          url: connection.url,
          version,
          dedupTokens: await connection.dedupTokens(signal),
          roundTripMs: Math.round(roundTripMs * 10) / 10,
          tablesExist: await connection.tablesExist(signal),
        };
      } catch (error) {
        if (error instanceof FieldkitError) throw error;
        throw new FieldkitError(describeClickHouseFailure(error, connection.url).error, { cause: error });
      } finally {
        await connection.close();
      }
    },
  };
}
