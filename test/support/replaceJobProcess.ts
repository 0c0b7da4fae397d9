/**
 * The recovery.replace job in a process of its own, for tests that kill it (-9) mid-way and run
 * the same replace again: `node test/support/replaceJobProcess.ts PARAMS.json`. It runs the job
 * as the worker would, with no cancel; its exit code says only whether the job finished.
 */
import { readFileSync } from 'node:fs';
import { runReplace } from '../../electron/recovery/replaceJob.ts';
import { ReplaceParamsSchema } from '../../electron/recovery/replaceParams.ts';

const file = process.argv[2];
if (file === undefined) throw new Error('usage: replaceJobProcess.ts PARAMS.json');
const params = ReplaceParamsSchema.parse(JSON.parse(readFileSync(file, 'utf8')));
runReplace(params, { signal: new AbortController().signal, progress: () => undefined, log: () => undefined, secrets: {} }).then(
  () => process.exit(0),
  () => process.exit(1),
);
