/**
 * The signed agent bundle's manifest (`manifest.json`, the first member of
 * `fieldkit-agent-<version>-linux-<arch>.tar`, signed by `manifest.json.minisig`). It lists
 * every other file with its SHA-256, size and mode, so checking the signature over these
 * exact bytes and then each file's hash checks the whole bundle. The laptop checks it before
 * it deploys; the build writes it.
 */
import { z } from 'zod';

export const agentBundleProduct = 'fieldkit-agent';
export const AgentArchSchema = z.enum(['x64', 'arm64']);
export type AgentArch = z.infer<typeof AgentArchSchema>;

/**
 * A relative path inside the bundle: no absolute paths, no `..`, no empty or `.` segments,
 * no backslashes. A manifest naming `../etc/passwd` must fail to parse, not be obeyed.
 */
export const BundlePathSchema = z
  .string()
  .min(1)
  .max(255)
  .refine((p) => !p.startsWith('/') && !p.includes('\\') && !p.includes('\0') && p.split('/').every((s) => s !== '' && s !== '.' && s !== '..'), {
    message: 'a relative path inside the bundle (no leading /, no .. or empty segments)',
  });

export const BundleFileSchema = z.strictObject({
  path: BundlePathSchema,
  sha256: z.string().regex(/^[0-9a-f]{64}$/, 'lower-case hex SHA-256'),
  size: z.number().int().nonnegative(),
  /** Permission bits (0o755 for programs, 0o644 otherwise). */
  mode: z.number().int().min(0).max(0o7777),
});
export type BundleFile = z.infer<typeof BundleFileSchema>;

export const AgentBundleManifestSchema = z.object({
  /** Bumped only for changes an older verifier would misread. */
  manifest_version: z.literal(1),
  product: z.literal(agentBundleProduct),
  version: z.string().min(1).max(64),
  arch: AgentArchSchema,
  /** The bundled Node runtime's version, such as `v24.11.1`. */
  node_version: z.string().regex(/^v\d+\.\d+\.\d+$/),
  /** ISO 8601; fixed per source commit so rebuilding gives the same bytes. */
  created_at: z.iso.datetime(),
  /** The source commit the bundle was built from, when known. */
  source_commit: z.string().nullable(),
  /** Where the systemd unit in this bundle expects to find things. */
  install: z.strictObject({ prefix: z.string().startsWith('/'), data_dir: z.string().startsWith('/'), config_path: z.string().startsWith('/') }),
  files: z.array(BundleFileSchema).min(1),
});
export type AgentBundleManifest = z.infer<typeof AgentBundleManifestSchema>;

/** The archive's file name for a version and architecture. */
export function agentBundleFileName(version: string, arch: AgentArch): string {
  return `${agentBundleProduct}-${version}-linux-${arch}.tar`;
}
