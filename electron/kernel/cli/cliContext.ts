/** What each domain's CLI commands get from the program (electron/cli/program.ts): calls, output, services. */
import type { Command } from 'commander';
import type { MethodName, RequestOf, ResponseOf } from '../../../shared/api.ts';
import type { EventBus } from '../api/eventBus.ts';
import type { ServiceKey } from '../domainServices.ts';
import type { JobRunner } from '../jobs/jobRunner.ts';
import type { CliIo } from './cliIo.ts';

/** The app's services as a command sees them, opened on first use. */
export type CliServices = {
  events: EventBus;
  jobs: JobRunner;
  /** A service a domain provides (the live health service), by the key its index.ts exports. */
  use<T>(key: ServiceKey<T>): T;
};

export type CliContext = {
  io: CliIo;
  json(): boolean;
  /** Calls an app-API method through the dispatcher; a failure throws and exits 1. */
  call<M extends MethodName>(method: M, params: RequestOf<M>): Promise<ResponseOf<M>>;
  open(): Promise<CliServices>;
  /** Prints `value` as JSON with --json, else the human text. */
  print(value: unknown, human: () => string): void;
  setExitCode(code: number): void;
};

/** Adds a group of commands to the program. */
export type CliCommands = (program: Command, ctx: CliContext) => void;
