/**
 * Entry of a job's worker process: the kernel's worker loop, loading only the module of the
 * job's own kind when the job arrives (jobKindLoaders.ts), so a worker starts in the time
 * its job needs, not the time every domain takes to load. Started by the job runner with an
 * IPC channel (app/jobWorkerLaunch.ts); never run by hand. Bundled as dist/electron/jobWorker.js.
 */
import { runJobWorker } from '../kernel/jobs/jobWorker.ts';
import { loadJobKind } from './jobKindLoaders.ts';

runJobWorker(loadJobKind);
