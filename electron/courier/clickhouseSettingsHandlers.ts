/** The settings.* methods of the app API. */
import { appError, FieldkitError } from '../../shared/errors.ts';
import type { ClickHouseSettings, ClickHouseSettingsPatch, ClickHouseTestResult } from '../../shared/clickhouseSettings.ts';
import type { ApiHandlers } from '../kernel/api/dispatch.ts';
import { describeClickHouseFailure, openClickHouse, type ClickHouseTarget } from './clickhouseConnection.ts';
import { schemeMismatch } from './clickhouseScheme.ts';
import type { Store } from '../kernel/store/openStore.ts';
import {
  applyClickHouseSettingsPatch,
  CLICKHOUSE_PASSWORD_SECRET,
  clickHouseSettingsView,
  loadClickHouseSettings,
  saveClickHouseSettings,
} from './clickhouseSettingsStore.ts';
import type { SecretStore } from '../kernel/secrets/secretStore.ts';

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

/** Connects, asks the version, dedup support and whether the tables exist; a failure says what to do. */
async function testConnection(target: ClickHouseTarget): Promise<ClickHouseTestResult> {
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
    const described = describeClickHouseFailure(error, connection.url);
    // A refused or dropped connection may be the wrong scheme for that port: ask the port.
    const mismatch = described.kind === 'fatal' && described.error.code !== 'VERIFICATION_FAILED' ? null : await schemeMismatch(target.settings.url);
    throw new FieldkitError(mismatch ?? described.error, { cause: error });
  } finally {
    await connection.close();
  }
}

export function createSettingsHandlers(deps: { db: Store; secrets: SecretStore }): Pick<ApiHandlers, SettingsMethods> {
  const { db, secrets } = deps;

  async function targetWith(patch: ClickHouseSettingsPatch): Promise<ClickHouseTarget> {
    const settings = applyClickHouseSettingsPatch(loadClickHouseSettings(db), patch);
    const password = patch.password === undefined ? ((await secrets.get(CLICKHOUSE_PASSWORD_SECRET)) ?? '') : (patch.password ?? '');
    return { settings, password };
  }

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
    'settings.clickhouse.test': async (patch) => {
      // Nothing given: the saved connection. Changes given: laid over the saved settings and
      // checked like a save, the typed password (or the saved one) used — and nothing stored,
      // so a wrong password tried here never replaces the one that works.
      const target = Object.keys(patch).length === 0 ? await requireClickHouseTarget(db, secrets) : await targetWith(patch);
      return testConnection(target);
    },
  };
}
