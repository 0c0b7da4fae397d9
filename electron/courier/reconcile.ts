/** Reconcile: ClickHouse against what each device journaled (being built). */
import type { ReconcileResult } from '../../shared/courier.ts';
import { appError, FieldkitError } from '../../shared/errors.ts';
import type { Store } from '../store/openStore.ts';
import type { ClickHouseTarget } from './clickhouseConnection.ts';

export function reconcileWithClickHouse(_db: Store, _target: ClickHouseTarget, _options: { deviceId?: string; maxRanges: number }): Promise<ReconcileResult> {
  return Promise.reject(new FieldkitError(appError('UNAVAILABLE', 'Reconcile is not available yet.', 'Update fieldkit.')));
}
