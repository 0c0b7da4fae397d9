import { describe, expect, it } from 'vitest';
import { noAlertsText } from '../../renderer/src/health/healthText.ts';

describe('a device page with no alert, before and after the first sample', () => {
  it('does not claim every threshold is met before anything was measured', () => {
    expect(noAlertsText(false)).toBe('No sample yet: thresholds are checked once the first one arrives.');
  });

  it('says every threshold is met once a sample came in without alerts', () => {
    expect(noAlertsText(true)).toBe('No alerts: every threshold is met.');
  });
});
