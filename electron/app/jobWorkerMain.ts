/**
 * Entry of a job's worker process: the kernel's worker loop with the job kinds of every
 * domain. Started by the job runner with an IPC channel (app/jobWorkerLaunch.ts); never run
 * by hand. Bundled as dist/electron/jobWorker.js.
 */
import { runJobWorker } from '../kernel/jobs/jobWorker.ts';
import { jobKinds } from './domains.ts';

runJobWorker(jobKinds);
