/** The key the running health service is provided under (its commands and the app read it). */
import { serviceKey } from '../kernel/domainServices.ts';
import type { HealthService } from './healthService.ts';

export const healthService = serviceKey<HealthService>('the live health service');
