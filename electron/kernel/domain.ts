/**
 * What a domain contributes to the app, as the kernel sees it. Each domain's index.ts
 * exports one `Domain`: its job kinds, how it starts in an app process (its API handlers,
 * and what it offers its siblings), and its CLI commands. app/domains.ts lists them; the
 * app, the job worker and the CLI compose from that one list. The kernel names no domain.
 */
import type { AppInfo } from '../../shared/api.ts';
import type { ApiHandlers } from './api/dispatch.ts';
import type { EventBus } from './api/eventBus.ts';
import type { CliCommands } from './cli/cliContext.ts';
import type { DomainServices } from './domainServices.ts';
import type { JobKindMap } from './jobs/jobKind.ts';
import type { JobRunner } from './jobs/jobRunner.ts';
import type { SecretStore } from './secrets/secretStore.ts';
import type { Store } from './store/openStore.ts';

/** What every domain may use in an app process: the kernel's services, one of each. */
export type KernelServices = {
  db: Store;
  events: EventBus;
  jobs: JobRunner;
  dataDir: string;
  secrets: SecretStore;
  /** The app's description (`app.info`); a domain may add to it (the demo site says what it started). */
  info: AppInfo;
  onError: (error: unknown) => void;
};

/** A domain running in an app process. */
export type StartedDomain<H extends Partial<ApiHandlers> = Partial<ApiHandlers>> = {
  /** Its methods of the app API. */
  handlers: H;
  /** Stops what it started (watchers, links, local agents); called in the reverse order of the list. */
  close?(): Promise<void>;
};

export type Domain<H extends Partial<ApiHandlers> = Partial<ApiHandlers>, K extends JobKindMap = JobKindMap> = {
  /** Its folder's name. */
  name: string;
  /** The kinds of job it runs; the runner and the worker get them all. */
  jobKinds: K;
  /** Starts it in an app process (Electron, web host, a CLI invocation). */
  start(kernel: KernelServices, services: DomainServices): StartedDomain<H> | Promise<StartedDomain<H>>;
  /** Its `fieldkit` commands, added in this order. */
  cliCommands: readonly CliCommands[];
  /** The command that carries each of its API methods (a missing one is a compile error; the CLI tests run each). */
  cliCommandFor: { readonly [M in keyof H]: string };
};

/** A domain with its handlers' and kinds' types kept, so app/ can check every API method and job kind has one. */
export function defineDomain<H extends Partial<ApiHandlers>, K extends JobKindMap>(domain: Domain<H, K>): Domain<H, K> {
  return domain;
}
