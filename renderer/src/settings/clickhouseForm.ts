/**
 * The ClickHouse form's text fields against the saved settings: what to send as a patch
 * (only what changed; an emptied optional field clears it), and which field an error names.
 */
import { clickHouseUrlProblem, type ClickHouseSettingsPatch, type ClickHouseSettingsView } from '../../../shared/clickhouseSettings.ts';
import type { AppError } from '../../../shared/errors.ts';

export type ClickHouseForm = {
  url: string;
  user: string;
  /** Typed here only; never filled from the service. Empty keeps the saved one. */
  password: string;
  database: string;
  table: string;
  cluster: string;
  caFile: string;
  certFile: string;
  keyFile: string;
};

export type ClickHouseField = keyof ClickHouseForm;

export const clickHouseFields: readonly ClickHouseField[] = ['url', 'user', 'password', 'database', 'table', 'cluster', 'caFile', 'certFile', 'keyFile'];

/** What the service fills in when a field was never set. */
const defaults = { user: 'default', database: 'default', table: 'telemetry' } as const;

export function formFromSettings(settings: ClickHouseSettingsView | null): ClickHouseForm {
  return {
    url: settings?.url ?? '',
    user: settings?.user ?? defaults.user,
    password: '',
    database: settings?.database ?? defaults.database,
    table: settings?.table ?? defaults.table,
    cluster: settings?.cluster ?? '',
    caFile: settings?.tls.caFile ?? '',
    certFile: settings?.tls.certFile ?? '',
    keyFile: settings?.tls.keyFile ?? '',
  };
}

/** Only what differs from the saved settings (everything, the first time). */
export function patchFromForm(form: ClickHouseForm, saved: ClickHouseSettingsView | null): ClickHouseSettingsPatch {
  const was = formFromSettings(saved);
  const patch: ClickHouseSettingsPatch = {};
  const text = (value: string) => value.trim();
  const optional = (value: string) => (text(value) === '' ? null : text(value));
  if (saved === null || text(form.url) !== was.url) patch.url = text(form.url);
  if (saved === null || text(form.user) !== was.user) patch.user = text(form.user);
  if (saved === null || text(form.database) !== was.database) patch.database = text(form.database);
  if (saved === null || text(form.table) !== was.table) patch.table = text(form.table);
  if (optional(form.cluster) !== optional(was.cluster)) patch.cluster = optional(form.cluster);
  if (optional(form.caFile) !== optional(was.caFile)) patch.caFile = optional(form.caFile);
  if (optional(form.certFile) !== optional(was.certFile)) patch.certFile = optional(form.certFile);
  if (optional(form.keyFile) !== optional(was.keyFile)) patch.keyFile = optional(form.keyFile);
  // Passwords may begin or end with spaces: sent as typed.
  if (form.password !== '') patch.password = form.password;
  return patch;
}

/** True when a field differs from the form as filled from `filledFrom` (typed by the technician, saved or not). */
export function isEdited(form: ClickHouseForm, filledFrom: ClickHouseSettingsView | null): boolean {
  const filled = formFromSettings(filledFrom);
  return clickHouseFields.some((field) => form[field] !== filled[field]);
}

/** True when saving would change something. */
export function isDirty(form: ClickHouseForm, saved: ClickHouseSettingsView | null): boolean {
  return Object.keys(patchFromForm(form, saved)).length > 0;
}

/** The form field a service error is about, if any. */
export function fieldOfError(field: string | undefined): ClickHouseField | null {
  return clickHouseFields.find((f) => f === field) ?? null;
}

/** What is wrong with the form before anything is sent (the URL's own words, once). */
export function checkForm(form: ClickHouseForm): Partial<Record<ClickHouseField, string>> {
  const url = clickHouseUrlProblem(form.url);
  return url === null ? {} : { url };
}

/**
 * Where a refusal belongs: under its field when it is about one field's value (a contract
 * rule, or a save the service refused for that field), else in the outcome below the form.
 * Never both: one mistake, one message.
 */
export function placeError(action: 'save' | 'test', error: AppError): { field: ClickHouseField; text: string } | null {
  const field = fieldOfError(error.field);
  if (field === null) return null;
  // The contract's own rule, without the method and field name in front of it.
  const rule = /^settings\.clickhouse\.\w+: field '[^']*': (.*)$/.exec(error.message)?.[1];
  if (rule !== undefined) return { field, text: /^[A-Z]/.test(rule) ? rule : `Expected ${rule}.` };
  return action === 'save' ? { field, text: `${error.message} ${error.hint}` } : null;
}
