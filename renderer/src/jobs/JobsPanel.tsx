import { useState } from 'react';
import { Button } from 'react-aria-components';
import { useConnectionSnapshot, useEvent } from '../api/hooks.ts';
import { ErrorNotice } from '../ui/ErrorNotice.tsx';
import { useNow } from '../ui/useNow.ts';
import { JobRow } from './JobRow.tsx';
import { useJobHistoryError, useJobs } from './useJobs.ts';
import './jobs-panel.css';

/** The jobs drawer under every screen: running jobs with Cancel, then recent history. */
export function JobsPanel() {
  const jobs = useJobs();
  const historyError = useJobHistoryError();
  const { state } = useConnectionSnapshot();
  const now = useNow(30_000);
  const [expanded, setExpanded] = useState(true);
  // A job the technician just started should be in view without a click.
  useEvent('job.event', (event) => {
    if (event.type === 'started') setExpanded(true);
  });

  const running = jobs.filter((job) => job.state === 'running').length;
  const finished = jobs.length - running;
  return (
    <section className="jobs-panel" aria-labelledby="jobs-heading" data-expanded={expanded}>
      <header className="jobs-panel-header">
        <h2 id="jobs-heading">Jobs</h2>
        <span className="jobs-counts num">
          <span className={running > 0 ? 'jobs-running-count is-active' : 'jobs-running-count'}>{running} running</span>
          {' · '}
          {finished} recent
        </span>
        <Button className="button is-quiet is-small" onPress={() => { setExpanded(!expanded); }} aria-expanded={expanded} aria-controls="jobs-list">
          {expanded ? 'Hide' : 'Show'}
        </Button>
      </header>
      {expanded && historyError !== null && !(historyError.code === 'UNAVAILABLE' && state.kind === 'retrying') && (
        <div className="jobs-history-error">
          <ErrorNotice error={historyError} compact />
        </div>
      )}
      {expanded &&
        (jobs.length === 0 ? (
          historyError === null && <p className="jobs-empty" id="jobs-list">
            No jobs yet. A read check started from Drives shows here with its progress, rate and time left.
          </p>
        ) : (
          <ul className="jobs-list" id="jobs-list">
            {jobs.map((job) => (
              <JobRow key={job.id} job={job} now={now} />
            ))}
          </ul>
        ))}
    </section>
  );
}
