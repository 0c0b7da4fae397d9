/**
 * The one list of domains. The app's services, the job worker and the `fieldkit` command
 * all compose from it: a new domain is its folder plus one line here. The order is the
 * order domains start in (a domain after those whose services it uses) and the order
 * their commands are added.
 */
import { JobKindSchema, type JobKind } from '../../shared/jobs.ts';
import type { Domain } from '../kernel/domain.ts';
import type { JobKindSpec } from '../kernel/jobs/jobKind.ts';
import { backupDomain } from '../backup/index.ts';
import { courierDomain } from '../courier/index.ts';
import { demoDomain } from '../demo/index.ts';
import { deployDomain } from '../deploy/index.ts';
import { devicesDomain } from '../devices/index.ts';
import { drivesDomain } from '../drives/index.ts';
import { flashDomain } from '../flash/index.ts';
import { healthDomain } from '../health/index.ts';
import { provisionDomain } from '../provision/index.ts';
import { recoveryDomain } from '../recovery/index.ts';

export const domains = [
  drivesDomain,
  devicesDomain,
  provisionDomain,
  flashDomain,
  courierDomain,
  deployDomain,
  healthDomain,
  backupDomain,
  recoveryDomain,
  demoDomain,
] as const;

type UnionToIntersection<U> = (U extends unknown ? (x: U) => void : never) extends (x: infer I) => void ? I : never;
type Listed = (typeof domains)[number];

/** Every job kind of every domain, with its params and result types. */
export type AppJobKinds = UnionToIntersection<Listed['jobKinds']>;

type HandledBy<D> = D extends Domain<infer H> ? keyof H : never;
/** The API methods the domains handle; app/appServices.ts must handle the others itself. */
export type DomainMethods = HandledBy<Listed>;

type Assert<T extends true> = T;
/** Fails to compile when some job kind has no domain. */
export type EveryKindContributed = Assert<JobKind extends keyof AppJobKinds ? true : false>;

/** The kinds of all domains as one map; a kind contributed twice is a bug said at startup. */
function composeJobKinds(list: readonly Domain[]): AppJobKinds {
  const kinds = new Map<JobKind, JobKindSpec>();
  for (const domain of list) {
    for (const [kind, spec] of Object.entries(domain.jobKinds) as [JobKind, JobKindSpec][]) {
      if (kinds.has(kind)) throw new Error(`Two domains contribute the job kind ${kind} (one is ${domain.name}).`);
      kinds.set(kind, spec);
    }
  }
  const missing = JobKindSchema.options.filter((kind) => !kinds.has(kind));
  if (missing.length > 0) throw new Error(`No domain contributes the job kind${missing.length === 1 ? '' : 's'} ${missing.join(', ')}.`);
  // Checked above at run time, and by EveryKindContributed at compile time.
  return Object.fromEntries(kinds) as AppJobKinds;
}

export const jobKinds = composeJobKinds(domains);
