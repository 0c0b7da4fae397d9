/**
 * A cancelled rollout must be given time to finish the rollback of a device that had
 * already switched: its worker is not killed after the default 5 s.
 */
import { describe, expect, it } from 'vitest';
import { jobKinds } from '../../electron/app/domains.ts';

describe('cancel grace per job kind', () => {
  it('gives deploy.rollout enough time for a rollback (restart, hello up to 15 s, a hold), others the default', () => {
    expect(jobKinds['deploy.rollout'].cancelGraceMs).toBeGreaterThanOrEqual(60_000);
    expect('cancelGraceMs' in jobKinds['courier.pull']).toBe(false);
  });
});
