/** The backup.* and settings.backup.* methods this domain answers itself (being written). */
import { appError, FieldkitError } from '../../shared/errors.ts';
import type { ApiHandlers } from '../kernel/api/dispatch.ts';

type Methods = 'backup.verify' | 'backup.copy' | 'backup.forget' | 'backup.history' | 'settings.backup.get' | 'settings.backup.set';

export function createBackupHandlers(): Pick<ApiHandlers, Methods> {
  const notYet = () => Promise.reject(new FieldkitError(appError('UNAVAILABLE', 'Not in this build yet.', 'Use a newer build.')));
  return {
    'backup.verify': notYet,
    'backup.copy': notYet,
    'backup.forget': notYet,
    'backup.history': notYet,
    'settings.backup.get': notYet,
    'settings.backup.set': notYet,
  };
}
