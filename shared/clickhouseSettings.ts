/**
 * Where the courier forwards to: the ClickHouse connection as the UI and CLI see it. The
 * password is never part of a response, only whether one is set; it lives in the laptop's
 * secret store (Electron safeStorage in the app, a 0600 file for the CLI and web host).
 */
import { z } from 'zod';

const identifier = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'a plain ClickHouse name: letters, digits and underscore, not starting with a digit');
/** An absolute path on this laptop (CA bundle, client certificate or key, in PEM). */
const pemPath = z.string().min(1).max(1024).regex(/^(\/|[A-Za-z]:[\\/])/, 'an absolute path to a PEM file');

export const FORWARD_BATCH_ROWS = { min: 10_000, max: 100_000, default: 50_000 } as const;
export const BatchRowsSchema = z.number().int().min(FORWARD_BATCH_ROWS.min).max(FORWARD_BATCH_ROWS.max);

/**
 * What is wrong with `text` as the URL of a ClickHouse HTTP interface, in the words the form,
 * the CLI and the service all show; null when it is fine. The most common slip, a host
 * without a scheme, gets the URL it probably meant.
 */
export function clickHouseUrlProblem(text: string): string | null {
  const trimmed = text.trim();
  if (trimmed === '') return 'Give the URL of the ClickHouse HTTP interface, such as https://ch.example.com:8443.';
  if (!/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(trimmed)) {
    const port = /:(\d+)(?:\/|$)/.exec(trimmed)?.[1];
    const scheme = port === '8443' || port === '443' ? 'https' : 'http';
    return `Add http:// or https:// in front, such as ${scheme}://${trimmed} (http:// for port 8123, https:// for 8443).`;
  }
  let url: URL;
  try {
    url = new URL(trimmed);
  } catch {
    return `${trimmed} is not a URL; write it as http://host:8123 or https://host:8443.`;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return `ClickHouse's HTTP interface takes http:// or https://, not ${url.protocol}//.`;
  if (url.username !== '' || url.password !== '') return 'Leave the user and password out of the URL: put them in User and Password.';
  return null;
}

export const ClickHouseUrlSchema = z
  .string()
  .max(2048)
  .superRefine((text, ctx) => {
    const problem = clickHouseUrlProblem(text);
    if (problem !== null) ctx.addIssue({ code: 'custom', message: problem });
  });

/** What the courier stores (no password). */
export const ClickHouseSettingsSchema = z.object({
  url: ClickHouseUrlSchema,
  user: z.string().min(1).max(128),
  database: identifier,
  /** Records go here; loss records to `<table>_loss`. */
  table: identifier,
  /** When set, the schema is created ON CLUSTER (replicated tables + Distributed). */
  cluster: identifier.nullable(),
  tls: z.object({
    /** CA bundle to trust instead of the system's (a private CA). */
    caFile: pemPath.nullable(),
    /** Client certificate and key for mutual TLS: both or neither. */
    certFile: pemPath.nullable(),
    keyFile: pemPath.nullable(),
  }),
  batchRows: BatchRowsSchema,
});
export type ClickHouseSettings = z.infer<typeof ClickHouseSettingsSchema>;

/** The settings as shown: everything but the password, and whether one is set. */
export const ClickHouseSettingsViewSchema = ClickHouseSettingsSchema.extend({ passwordSet: z.boolean() });
export type ClickHouseSettingsView = z.infer<typeof ClickHouseSettingsViewSchema>;

/**
 * A change to the settings: absent fields keep their value; null clears a nullable one
 * (and `password: null` removes the password). The first set must give a url.
 */
export const ClickHouseSettingsPatchSchema = z.strictObject({
  url: ClickHouseUrlSchema.optional(),
  user: z.string().min(1).max(128).optional(),
  password: z.string().max(1024).nullable().optional(),
  database: identifier.optional(),
  table: identifier.optional(),
  cluster: identifier.nullable().optional(),
  caFile: pemPath.nullable().optional(),
  certFile: pemPath.nullable().optional(),
  keyFile: pemPath.nullable().optional(),
  batchRows: BatchRowsSchema.optional(),
});
export type ClickHouseSettingsPatch = z.infer<typeof ClickHouseSettingsPatchSchema>;

export const ClickHouseTestResultSchema = z.object({
  url: z.string(),
  /** What `SELECT version()` answered. */
  version: z.string(),
  /** The server takes insert_deduplication_token (22.2 and later); older ones rest on the table key alone. */
  dedupTokens: z.boolean(),
  roundTripMs: z.number().nonnegative(),
  /** Whether the telemetry and loss tables exist yet (the first forward creates them). */
  tablesExist: z.boolean(),
});
export type ClickHouseTestResult = z.infer<typeof ClickHouseTestResultSchema>;
