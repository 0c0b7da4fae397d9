/** The AppError a promise fails with; fails the test if it resolves or throws anything else. */
import { isFieldkitError, type AppError } from '../../shared/errors.ts';

export async function failure(promise: Promise<unknown>): Promise<AppError> {
  try {
    await promise;
  } catch (error) {
    if (isFieldkitError(error)) return error.appError;
    throw error;
  }
  throw new Error('expected a failure');
}
