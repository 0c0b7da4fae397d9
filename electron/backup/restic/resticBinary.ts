/**
 * Where restic is: FIELDKIT_RESTIC when set, else beside the app (a packaged build ships it
 * in its resources), else on PATH. Missing restic is a clear error saying how to install it.
 */
import { accessSync, constants } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { appError, FieldkitError } from '../../../shared/errors.ts';

const exe = process.platform === 'win32' ? 'restic.exe' : 'restic';

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export function resticMissing(detail: string): FieldkitError {
  return new FieldkitError(
    appError(
      'UNAVAILABLE',
      `restic, which keeps fieldkit's backups, was not found (${detail}).`,
      'Install it (Debian/Ubuntu: sudo apt install restic; macOS: brew install restic; Windows: scoop install restic), or set FIELDKIT_RESTIC to the restic program.',
    ),
  );
}

/** The restic program to run, or UNAVAILABLE saying how to install it. */
export function findRestic(env: NodeJS.ProcessEnv = process.env): string {
  const override = env['FIELDKIT_RESTIC'];
  if (override !== undefined && override !== '') {
    if (executable(override)) return override;
    throw resticMissing(`FIELDKIT_RESTIC is ${override}, which is not a program this user can run`);
  }
  const resources = (process as { resourcesPath?: string }).resourcesPath;
  const beside = [dirname(process.execPath), ...(resources === undefined ? [] : [resources])].map((dir) => join(dir, exe));
  const onPath = (env['PATH'] ?? '').split(delimiter).filter(Boolean).map((dir) => join(dir, exe));
  const found = [...beside, ...onPath].find(executable);
  if (found === undefined) throw resticMissing('not beside fieldkit, not on PATH');
  return found;
}
