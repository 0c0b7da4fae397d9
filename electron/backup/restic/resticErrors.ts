/**
 * restic's failures as AppErrors that say what to do. restic 0.14 exits 1 for any fatal
 * error and says which on stderr ("Fatal: …"); the words are what we branch on.
 */
import { appError, type AppError } from '../../../shared/errors.ts';

export type ResticFailure = { code: number | null; signal: NodeJS.Signals | null; stderr: string };

/** restic's own last "Fatal:" line, or its last line. */
export function resticSays(stderr: string): string {
  const lines = stderr.split('\n').map((l) => l.trim()).filter(Boolean);
  return lines.find((l) => l.startsWith('Fatal:'))?.replace(/^Fatal:\s*/, '') ?? lines.at(-1) ?? 'no message';
}

/** What restic failing to `what` means for the technician. `where` names the repository. */
export function resticError(what: string, where: string, failure: ResticFailure): AppError {
  const said = resticSays(failure.stderr);
  const text = failure.stderr;
  if (/wrong password or no key found/.test(text)) {
    return appError(
      'AUTH_FAILED',
      `The password fieldkit keeps for the backup repository ${where} does not open it.`,
      'The repository was made with another password (another laptop, or restored settings): set that repository again with its recovery key, or choose an empty folder.',
    );
  }
  if (/unable to open config file|Is there a repository at the following location/.test(text)) {
    return appError('NOT_FOUND', `There is no restic repository at ${where}.`, 'Check the drive is attached and the path or URL is right; fieldkit creates a repository when you set it in Settings → Backups (fieldkit backup repo).');
  }
  if (/repository is already locked/.test(text)) {
    const stale = /lock was created at .*\((\d+h|\d+\.?\d*h)/.test(text) ? ' It may be stale.' : '';
    return appError(
      'CONFLICT',
      `The backup repository ${where} is locked by another restic run.${stale}`,
      'Wait for the other backup, copy or verification to finish. If none runs (a crashed run), fieldkit removes only its own stale locks; another machine\'s lock must be removed there (restic unlock) — removing a live lock can damage the repository.',
    );
  }
  if (/ssh: |Permission denied \(publickey|Host key verification failed|subprocess ssh: /.test(text)) {
    return appError(
      /Host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED/.test(text) ? 'HOST_KEY_CHANGED' : 'UNAVAILABLE',
      `Could not reach the off-site repository ${where} over SSH: ${said}`,
      'Check the server is reachable and that fieldkit\'s SSH key (fieldkit backup repo shows it) is in the backup user\'s authorized_keys; a changed host key is refused until you remove the old one from fieldkit\'s backup known_hosts.',
    );
  }
  if (/no space left on device/i.test(text)) {
    return appError('IO_ERROR', `The backup repository ${where} is full: ${said}`, 'Free space there (fieldkit backup forget applies retention), or use a bigger drive.');
  }
  if (failure.signal !== null) {
    return appError('IO_ERROR', `restic stopped by ${failure.signal} while it was to ${what} (${where}).`, 'Run it again; nothing half-written counts.');
  }
  return appError('IO_ERROR', `restic could not ${what} (${where}): ${said}`, 'Read restic\'s message above; run again once it is fixed.');
}
