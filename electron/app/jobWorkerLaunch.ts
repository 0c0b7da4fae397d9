/** How the app starts a job's worker process by default. */
import { fileURLToPath } from 'node:url';
import type { WorkerLaunch } from '../kernel/jobs/jobRunner.ts';

/**
 * The worker's entry beside this module: jobWorkerMain.ts under Node from the sources;
 * jobWorker.js beside the bundle this module is built into (dist/electron/main.js, cli.js).
 */
export function defaultWorkerLaunch(): WorkerLaunch {
  const self = fileURLToPath(import.meta.url);
  const script = self.endsWith('.ts')
    ? fileURLToPath(new URL('./jobWorkerMain.ts', import.meta.url))
    : fileURLToPath(new URL('./jobWorker.js', import.meta.url));
  return { execPath: process.execPath, script, env: {} };
}
