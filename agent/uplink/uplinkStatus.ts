/**
 * What the uplink reports about itself: the health sample carries it, so a technician sees
 * "forwarding", "backoff: connection refused" or "outside window" without reading logs.
 */
import type { HealthSample } from '../../shared/health.ts';

export type UplinkStatus = HealthSample['uplink'];
export type UplinkState = UplinkStatus['state'];

/** The status of an agent with no uplink configured (or one running in another process). */
export const UPLINK_OFF: UplinkStatus = { state: 'off', last_forward_ms: null, last_error: null };
