import { useRef, useState } from 'react';
import { Button, Dialog, DialogTrigger, Heading, Popover } from 'react-aria-components';
import { JobProgressBar } from './JobProgressBar.tsx';
import { JobsDrawerContent } from './JobsDrawer.tsx';
import { JobToasts } from './JobToasts.tsx';
import type { JobView } from './jobStore.ts';
import { progressFigures } from './progressFigures.ts';
import { useCancelJob, useJobHistoryError, useJobs } from './useJobs.ts';
import './jobs-status-bar.css';

/** How many running jobs the bar names; the rest are "+N more" (the drawer lists them all). */
const shownRunning = 2;

/**
 * The jobs line under every screen: one fixed-height bar with the running jobs (name, bar,
 * percent, rate, time left, Cancel) and how many have finished. The full list opens over
 * the screen only when asked (the button, or a notice's "Show"), and never by itself: a
 * job starting must not cover what the technician is reading.
 */
export function JobsStatusBar() {
  const jobs = useJobs();
  const historyError = useJobHistoryError();
  const [open, setOpen] = useState(false);
  const [focusJob, setFocusJob] = useState<string | null>(null);
  const trigger = useRef<HTMLButtonElement>(null);
  const running = jobs.filter((job) => job.state === 'running');
  const finished = jobs.length - running.length;

  function openAt(jobId: string | null): void {
    setFocusJob(jobId);
    setOpen(true);
  }

  return (
    <footer className="jobs-status-bar" data-testid="jobs-status-bar" aria-label="Jobs">
      <span className="status-bar-label">Jobs</span>
      <ul className="status-jobs" aria-label="Running jobs">
        {running.length === 0 && <li className="status-idle">{historyError === null ? 'Nothing running' : 'Job history unavailable'}</li>}
        {running.slice(0, shownRunning).map((job) => (
          <StatusJob key={job.id} job={job} />
        ))}
        {running.length > shownRunning && <li className="status-more num">+{running.length - shownRunning} more running</li>}
      </ul>
      <JobToasts onShow={openAt} />
      <DialogTrigger isOpen={open} onOpenChange={(next) => { setOpen(next); if (!next) setFocusJob(null); }}>
        <Button ref={trigger} className="button is-quiet is-small status-toggle" data-testid="jobs-toggle">
          <span className="num">
            {running.length} running · {finished} finished
          </span>
          <span aria-hidden="true">{open ? ' ▾' : ' ▴'}</span>
          <span className="visually-hidden"> — show all jobs</span>
        </Button>
        <Popover className="jobs-drawer" placement="top end" offset={4} triggerRef={trigger} data-testid="jobs-drawer">
          <Dialog className="jobs-drawer-dialog" aria-labelledby="jobs-drawer-heading">
            <Heading slot="title" id="jobs-drawer-heading" className="jobs-drawer-heading">
              All jobs
            </Heading>
            <JobsDrawerContent jobs={jobs} focusJob={focusJob} />
          </Dialog>
        </Popover>
      </DialogTrigger>
    </footer>
  );
}

/** One running job in the bar: the figures the technician glances at, and Cancel. */
function StatusJob({ job }: { job: JobView }) {
  const figures = progressFigures(job.progress);
  const { cancel, cancelling } = useCancelJob(job);
  const phase = cancelling ? 'stopping…' : (job.progress?.phase ?? 'starting');
  return (
    <li className="status-job" data-testid="status-job" data-job-id={job.id} data-state={job.state}>
      <span className="status-job-title" title={job.title}>
        {job.title}
      </span>
      <span className="status-job-phase">{figures.percent === null ? `${phase} · ${figures.amount}` : phase}</span>
      <span className="status-job-bar">
        <JobProgressBar progress={job.progress} label={`Progress of ${job.title}`} />
      </span>
      <span className="status-job-percent num" data-testid="status-job-percent">
        {figures.percent ?? ''}
      </span>
      <span className="status-job-rate num" title="Rate over the last few seconds">
        {/* A dash until the service has measured a rate, as in the full list: the column does not jump. */}
        {figures.rate ?? (job.progress?.unit === 'items' ? '' : '– MB/s')}
        {figures.eta === null ? '' : ` · ${figures.eta} left`}
      </span>
      <Button className="button is-small" onPress={cancel} isPending={cancelling} aria-label={`Cancel ${job.title}`}>
        {cancelling ? 'Cancelling…' : 'Cancel'}
      </Button>
    </li>
  );
}
