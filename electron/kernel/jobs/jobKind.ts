/**
 * What a kind of job is, as the kernel sees it: the runner needs its params schema, title,
 * result schemas and cancel grace; the worker needs its `run`. The kernel knows no kind:
 * each domain defines its own with `defineJobKind` and exports them from its index.ts, and
 * app/ hands the composed map to the runner and to the worker loop.
 */
import type { z } from 'zod';
import type { JobKind } from '../../../shared/jobs.ts';
import type { JobContext } from './jobContext.ts';

export type JobKindSpec<P = unknown, R = unknown> = {
  params: z.ZodType<P>;
  title(params: P): string;
  run(params: P, ctx: JobContext): Promise<R>;
  /**
   * What a finished job returns (a schema in shared/, so the renderer and the CLI read the
   * same type). The runner checks every result a worker sends against it: a result that
   * does not parse fails the job.
   */
  result: z.ZodType<R>;
  /**
   * What a failed or cancelled job of this kind still carries (JobFailedError /
   * JobCancelledError), when that differs from `result` (a provisioning stopped half-way
   * has its steps but no device). Default: `result`.
   */
  stoppedResult?: z.ZodType;
  /** How long a cancelled worker may take to stop before it is killed (default: the runner's, 5 s). */
  cancelGraceMs?: number;
};

/** Kinds by name, as a domain contributes them and app/ composes them. */
export type JobKindMap = { readonly [K in JobKind]?: JobKindSpec };

/** A kind with its params and result types inferred from its schemas. */
export function defineJobKind<P, R>(spec: JobKindSpec<P, R>): JobKindSpec<P, R> {
  return spec;
}

/** The params a kind's job is started with (its schema's output). */
export type JobParamsOf<S> = S extends { params: z.ZodType<infer P> } ? P : never;
