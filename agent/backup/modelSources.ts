/**
 * The state class's model part: the active model version's manifest, and only the model
 * files no signed bundle holds. Deploy installs a model bundle as `<models_dir>/<version>`,
 * points `<models_dir>/active` at it and keeps the bundle's signed manifest (file names,
 * sizes, SHA-256, the model's name and version, so the bundle it came from) at
 * `<models_dir>/.manifests/<version>.json` (shared/modelBundle.ts). A file the manifest
 * lists with the size it has is re-deployable from that bundle and is not backed up;
 * anything else in the active version's folder is — and the whole folder when no manifest
 * names the active version (a model copied there by hand).
 *
 * A listed file whose bytes changed but whose size did not is taken as the bundle's (its
 * contents are not read here, as the change token reads none); deploy's `sha256sum -c`
 * and a redeploy are what catch that.
 */
import { existsSync, readFileSync, readlinkSync } from 'node:fs';
import { basename, join, relative, resolve } from 'node:path';
import { installedModelManifestPath, ModelBundleManifestSchema, type ModelBundleManifest } from '../../shared/modelBundle.ts';
import { walkFiles } from './walkFiles.ts';

function activeFolder(modelsDir: string): string | null {
  try {
    return resolve(modelsDir, readlinkSync(join(modelsDir, 'active')));
  } catch {
    return null;
  }
}

function readManifest(path: string, version: string): ModelBundleManifest | null {
  if (!existsSync(path)) return null;
  try {
    const parsed = ModelBundleManifestSchema.safeParse(JSON.parse(readFileSync(path, 'utf8')));
    return parsed.success && parsed.data.version === version ? parsed.data : null;
  } catch {
    return null;
  }
}

/** The files and folders the state class holds of the active model (none when no model is active), and what is missing. */
export function planModel(modelsDir: string): { paths: string[]; missing: string[] } {
  const folder = activeFolder(modelsDir);
  if (folder === null) return { paths: [], missing: [] };
  if (!existsSync(folder)) return { paths: [], missing: [folder] };
  const version = basename(folder);
  const manifestPath = installedModelManifestPath(modelsDir, version);
  const manifest = readManifest(manifestPath, version);
  if (manifest === null) return { paths: [folder], missing: [] };
  const fromBundle = new Map(manifest.files.map((f) => [f.path, f.size]));
  const paths = [manifestPath];
  const events = { missing: (): void => undefined, note: (): void => undefined };
  for (const file of walkFiles(folder, events)) {
    if (fromBundle.get(relative(folder, file.path)) !== file.stat.size) paths.push(file.path);
  }
  return { paths, missing: [] };
}
