/** Where fieldkit keeps its data and finds its built UI, the same for CLI and web host. */
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import packageJson from '../../package.json' with { type: 'json' };

/** The app's version, from package.json. */
export function appVersion(): string {
  return packageJson.version;
}

/**
 * The data folder: FIELDKIT_DATA_DIR when set (tests, portable installs), else the
 * platform's per-user application data folder — the same one Electron's userData uses.
 */
export function defaultDataDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.FIELDKIT_DATA_DIR) return env.FIELDKIT_DATA_DIR;
  const home = homedir();
  switch (process.platform) {
    case 'darwin':
      return join(home, 'Library', 'Application Support', 'fieldkit');
    case 'win32':
      return join(env.APPDATA ?? join(home, 'AppData', 'Roaming'), 'fieldkit');
    default:
      return join(env.XDG_CONFIG_HOME ?? join(home, '.config'), 'fieldkit');
  }
}

/** The built renderer (Vite's output): dist/renderer from source or beside the bundle. */
export function rendererDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.FIELDKIT_RENDERER_DIR) return env.FIELDKIT_RENDERER_DIR;
  const fromSource = import.meta.url.endsWith('.ts');
  return fileURLToPath(new URL(fromSource ? '../../dist/renderer/' : '../renderer/', import.meta.url));
}
