/**
 * A signed model bundle (`fieldkit-model-<name>-<version>.tar`): manifest.json first,
 * manifest.json.minisig second, then the model's files. Like the agent bundle, the signed
 * manifest lists every file with its SHA-256, size and mode, so the signature plus each
 * file's hash checks the whole bundle. Deploy installs it under `<prefix>/models/<version>`,
 * switches `<prefix>/models/active` to it and restarts the named inference service.
 */
import { z } from 'zod';
import { BundleFileSchema } from './agentBundle.ts';

export const modelBundleProduct = 'fieldkit-model';

/** A systemd unit name: letters, digits and `-_.@`, ending in .service. */
export const ServiceUnitNameSchema = z.string().regex(/^[A-Za-z0-9_.@-]{1,200}\.service$/, 'a systemd service name such as inference.service');

export const ModelBundleManifestSchema = z.object({
  manifest_version: z.literal(1),
  product: z.literal(modelBundleProduct),
  /** The model's name, such as `yolov8n-people`. */
  name: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'letters, digits, dot, dash, underscore'),
  version: z.string().regex(/^[A-Za-z0-9._+-]{1,64}$/, 'letters, digits and . _ + -'),
  created_at: z.iso.datetime(),
  install: z.strictObject({
    /** The install prefix that holds `models/` (the agent's, so both share one object store). */
    prefix: z.string().regex(/^\/[A-Za-z0-9/._+-]*[^/]$/, 'an absolute path without a trailing slash'),
    /** The inference service that loads `<prefix>/models/active`; restarted on every switch. */
    service: ServiceUnitNameSchema,
    /**
     * A command run on the device (as the login user) after the restart; exit 0 = healthy.
     * Null: the service staying active is the only check.
     */
    health_command: z.string().min(1).max(1000).nullable(),
  }),
  files: z.array(BundleFileSchema).min(1),
});
export type ModelBundleManifest = z.infer<typeof ModelBundleManifestSchema>;

/** The archive's file name for a model and version. */
export function modelBundleFileName(name: string, version: string): string {
  return `${modelBundleProduct}-${name}-${version}.tar`;
}

/**
 * Where deploy keeps the manifest of an installed model version on the device, beside the
 * versions in `<prefix>/models` (hidden, so the release folders stay the bundle's files
 * alone): the state backup class names the active model by it (agent/backup/modelSources.ts).
 */
export function installedModelManifestPath(modelsDir: string, version: string): string {
  return `${modelsDir}/.manifests/${version}.json`;
}
