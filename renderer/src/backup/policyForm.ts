/**
 * The Policies dialog's form: each class's window, retention figures and added paths as the
 * technician types them (strings), checked here before anything is sent, so a bad value is
 * said beside its field with what to type instead. The service checks again
 * (BackupSettingsPatchSchema); what it refuses is shown as its error.
 */
import type { BackupPolicies, ClassPolicy, Retention } from '../../../shared/backup.ts';
import type { BackupClass } from '../../../shared/backupStream.ts';

export const retentionKeys = ['keepLast', 'keepHourly', 'keepDaily', 'keepWeekly', 'keepMonthly'] as const satisfies readonly (keyof Retention)[];
export const retentionLabels: Record<(typeof retentionKeys)[number], string> = { keepLast: 'Last', keepHourly: 'Hourly', keepDaily: 'Daily', keepWeekly: 'Weekly', keepMonthly: 'Monthly' };

/** Classes whose added paths are edited here (state is the agent's own databases; secrets' extra paths stay on the CLI). */
export const pathClasses: readonly BackupClass[] = ['config', 'data'];

export type ClassForm = { freshnessDays: string; retention: Record<(typeof retentionKeys)[number], string>; extraPaths: string };
export type PolicyForm = Record<BackupClass, ClassForm>;
/** Field errors by `<class>.<field>` (`state.freshnessDays`, `data.keepDaily`, `config.extraPaths`). */
export type PolicyErrors = Record<string, string>;

export function formOf(policies: BackupPolicies): PolicyForm {
  const one = (p: ClassPolicy): ClassForm => ({
    freshnessDays: String(p.freshnessDays),
    retention: { keepLast: String(p.retention.keepLast), keepHourly: String(p.retention.keepHourly), keepDaily: String(p.retention.keepDaily), keepWeekly: String(p.retention.keepWeekly), keepMonthly: String(p.retention.keepMonthly) },
    extraPaths: p.extraPaths.join('\n'),
  });
  return { config: one(policies.config), state: one(policies.state), data: one(policies.data), secrets: one(policies.secrets) };
}

function wholeNumber(text: string, min: number, max: number): number | null {
  const t = text.trim();
  if (!/^\d+$/.test(t)) return null;
  const n = Number(t);
  return n >= min && n <= max ? n : null;
}

function paths(text: string): string[] {
  return text
    .split('\n')
    .map((p) => p.trim())
    .filter((p) => p !== '');
}

function checkClass(c: BackupClass, form: ClassForm, errors: PolicyErrors): ClassPolicy | null {
  const days = wholeNumber(form.freshnessDays, 1, 3650);
  if (days === null) errors[`${c}.freshnessDays`] = 'Whole days, 1 to 3650.';
  const retention: Partial<Retention> = {};
  for (const key of retentionKeys) {
    const n = wholeNumber(form.retention[key], 0, 10_000);
    if (n === null) errors[`${c}.${key}`] = 'A whole number, 0 to 10000.';
    else retention[key] = n;
  }
  const complete = retentionKeys.every((k) => retention[k] !== undefined);
  if (complete && retentionKeys.every((k) => retention[k] === 0)) errors[`${c}.keepLast`] = 'Keep at least one snapshot: set one of these above 0.';
  const extra = paths(form.extraPaths);
  const relative = extra.filter((p) => !p.startsWith('/'));
  if (relative.length > 0) errors[`${c}.extraPaths`] = `A path on the device starts with /: ${relative.map((p) => `“${p}”`).join(', ')}.`;
  else if (extra.length > 100) errors[`${c}.extraPaths`] = 'At most 100 paths a class.';
  if (days === null || !complete || errors[`${c}.keepLast`] !== undefined || errors[`${c}.extraPaths`] !== undefined) return null;
  return { freshnessDays: days, retention: retention as Retention, extraPaths: extra };
}

/** The policies the form says, or each field's error. */
export function checkPolicyForm(form: PolicyForm): { policies: BackupPolicies } | { errors: PolicyErrors } {
  const errors: PolicyErrors = {};
  const config = checkClass('config', form.config, errors);
  const state = checkClass('state', form.state, errors);
  const data = checkClass('data', form.data, errors);
  const secrets = checkClass('secrets', form.secrets, errors);
  if (config === null || state === null || data === null || secrets === null) return { errors };
  return { policies: { config, state, data, secrets } };
}
