/**
 * The courier's ClickHouse settings: kept in the store's meta table (no secrets), the
 * password in the SecretStore. A change is a patch over what is saved, checked whole.
 */
import { accessSync, constants } from 'node:fs';
import {
  ClickHouseSettingsSchema,
  FORWARD_BATCH_ROWS,
  type ClickHouseSettings,
  type ClickHouseSettingsPatch,
  type ClickHouseSettingsView,
} from '../../shared/clickhouseSettings.ts';
import { appError, FieldkitError } from '../../shared/errors.ts';
import { readMetaValue, writeMetaValue } from '../kernel/store/metaValues.ts';
import type { Store } from '../kernel/store/openStore.ts';

const META_KEY = 'settings.clickhouse';
export const CLICKHOUSE_PASSWORD_SECRET = 'clickhouse.password';

/** The saved settings, or null when none were set. */
export function loadClickHouseSettings(db: Store): ClickHouseSettings | null {
  const saved = readMetaValue(db, META_KEY);
  if (saved === null) return null;
  const parsed = ClickHouseSettingsSchema.safeParse(JSON.parse(saved));
  return parsed.success ? parsed.data : null;
}

export function saveClickHouseSettings(db: Store, settings: ClickHouseSettings): void {
  writeMetaValue(db, META_KEY, JSON.stringify(settings));
}

/** `current` with `patch` applied (the password aside), checked as a whole. */
export function applyClickHouseSettingsPatch(current: ClickHouseSettings | null, patch: ClickHouseSettingsPatch): ClickHouseSettings {
  const url = patch.url ?? current?.url;
  if (url === undefined) {
    throw new FieldkitError(appError('BAD_REQUEST', 'No ClickHouse URL is set yet.', 'Give the URL of the ClickHouse HTTP interface, such as https://ch.example.com:8443.', 'url'));
  }
  const pick = (key: 'caFile' | 'certFile' | 'keyFile'): string | null => (patch[key] === undefined ? (current?.tls[key] ?? null) : patch[key]);
  const next: ClickHouseSettings = {
    url,
    user: patch.user ?? current?.user ?? 'default',
    database: patch.database ?? current?.database ?? 'default',
    table: patch.table ?? current?.table ?? 'telemetry',
    cluster: patch.cluster === undefined ? (current?.cluster ?? null) : patch.cluster,
    tls: { caFile: pick('caFile'), certFile: pick('certFile'), keyFile: pick('keyFile') },
    batchRows: patch.batchRows ?? current?.batchRows ?? FORWARD_BATCH_ROWS.default,
  };
  if ((next.tls.certFile === null) !== (next.tls.keyFile === null)) {
    throw new FieldkitError(
      appError('BAD_REQUEST', 'Mutual TLS needs both a client certificate and its key.', 'Give both --cert and --key (PEM files), or neither.', next.tls.certFile === null ? 'certFile' : 'keyFile'),
    );
  }
  const tlsFiles = [next.tls.caFile, next.tls.certFile, next.tls.keyFile].filter((f): f is string => f !== null);
  if (tlsFiles.length > 0 && new URL(next.url).protocol !== 'https:') {
    throw new FieldkitError(appError('BAD_REQUEST', 'TLS files are set but the URL is not https://.', 'Use the https:// URL of the server (often port 8443), or clear the TLS files.', 'url'));
  }
  for (const [field, file] of [['caFile', next.tls.caFile], ['certFile', next.tls.certFile], ['keyFile', next.tls.keyFile]] as const) {
    if (file === null) continue;
    try {
      accessSync(file, constants.R_OK);
    } catch {
      throw new FieldkitError(appError('NOT_FOUND', `Cannot read ${file}.`, 'Give the path of a PEM file this user can read.', field));
    }
  }
  return ClickHouseSettingsSchema.parse(next);
}

export function clickHouseSettingsView(settings: ClickHouseSettings, passwordSet: boolean): ClickHouseSettingsView {
  return { ...settings, passwordSet };
}

/** The names of the two tables the courier writes, with the loss table beside the records. */
export function courierTables(settings: Pick<ClickHouseSettings, 'table'>): { table: string; lossTable: string } {
  return { table: settings.table, lossTable: `${settings.table}_loss` };
}
