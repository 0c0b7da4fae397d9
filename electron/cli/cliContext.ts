/** What each group of CLI commands gets from the program: calls, output, services. */
import type { MethodName, RequestOf, ResponseOf } from '../../shared/api.ts';
import type { AppServices } from '../app/appServices.ts';
import type { CliIo } from '../kernel/cli/cliIo.ts';

export type CliContext = {
  io: CliIo;
  json(): boolean;
  /** Calls an app-API method through the dispatcher; a failure throws and exits 1. */
  call<M extends MethodName>(method: M, params: RequestOf<M>): Promise<ResponseOf<M>>;
  open(): Promise<AppServices>;
  /** Prints `value` as JSON with --json, else the human text. */
  print(value: unknown, human: () => string): void;
  setExitCode(code: number): void;
};
