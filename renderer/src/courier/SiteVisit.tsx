/**
 * A site visit on the Courier screen: the buttons that start one (Pull all, and one per
 * site), and while it runs, its overall progress (records of total, bytes, rate, time
 * left, Cancel) with a line per device: where it stands, what it carried, and why it is
 * retrying or what to do when it failed.
 */
import { useState } from 'react';
import { Button } from 'react-aria-components';
import { formatBytes, formatRate } from '../../../shared/format.ts';
import type { VisitDeviceLine, VisitDeviceState } from '../../../shared/siteVisit.ts';
import { useBridge } from '../api/hooks.ts';
import type { JobView } from '../jobs/jobStore.ts';
import type { CourierNotice } from './courierOutcomes.ts';
import { CourierJobProgress } from './CourierJobProgress.tsx';
import { count } from './courierText.ts';

/** Starting a visit of one site (or all devices: null); a notice when it cannot start. */
export function useVisitAction(
  show: (notice: CourierNotice) => void,
  dismiss: (key: string) => void,
  onStarted: (jobId: string, key: string) => void = () => undefined,
): { starting: string | null; visit: (site: string | null) => void } {
  const bridge = useBridge();
  // The site being started, '' for all devices.
  const [starting, setStarting] = useState<string | null>(null);
  function visit(site: string | null): void {
    setStarting(site ?? '');
    void bridge.invoke('courier.visit', site === null ? { all: true } : { site }).then((result) => {
      setStarting(null);
      if (result.ok) {
        dismiss('visit');
        onStarted(result.value.jobId, 'visit');
      } else show({ key: 'visit', kind: 'failed', title: site === null ? 'Could not start pulling all devices' : `Could not start pulling site ${site}`, error: result.error });
    });
  }
  return { starting, visit };
}

/** The sites that have devices, with how many each, in name order. */
export function sitesOf(devices: readonly { site: string }[]): { site: string; devices: number }[] {
  const counts = new Map<string, number>();
  for (const d of devices) if (d.site !== '') counts.set(d.site, (counts.get(d.site) ?? 0) + 1);
  return [...counts].sort(([a], [b]) => a.localeCompare(b)).map(([site, n]) => ({ site, devices: n }));
}

/** "Pull site north (4)" per site: one job for all of a site's devices. */
export function SiteVisitButtons({ sites, busy, starting, onVisit }: { sites: readonly { site: string; devices: number }[]; busy: boolean; starting: string | null; onVisit: (site: string) => void }) {
  if (sites.length === 0) return null;
  return (
    <div className="courier-sites" role="group" aria-label="Pull every device of a site">
      <span className="courier-sites-label">Pull a site:</span>
      {sites.map(({ site, devices }) => (
        <Button
          key={site}
          className="button is-small"
          isDisabled={busy}
          isPending={starting === site}
          onPress={() => {
            onVisit(site);
          }}
          aria-label={`Pull every device of site ${site} (${devices})`}
        >
          {site} <span className="muted num">({devices})</span>
        </Button>
      ))}
    </div>
  );
}

const stateWords: Record<VisitDeviceState, string> = {
  waiting: 'waiting',
  connecting: 'connecting',
  safety: 'safety events',
  safety_done: 'safety done',
  bulk: 'pulling',
  retrying: 'retrying',
  done: 'done',
  failed: 'failed',
  cancelled: 'cancelled',
};

/** The running visit: overall progress and Cancel, then a line per device. */
export function SiteVisitPanel({ job }: { job: JobView }) {
  const visit = job.progress?.visit;
  const lines = visit?.devices ?? [];
  const finished = lines.filter((l) => l.state === 'done' || l.state === 'failed' || l.state === 'cancelled').length;
  return (
    <section className="courier-visit" aria-label="Site visit in progress" data-testid="site-visit">
      <div className="courier-visit-head">
        <h2>{job.title}</h2>
        <CourierJobProgress job={job} label={job.title} />
        <p className="courier-visit-figures num" data-testid="site-visit-figures">
          {visit === undefined ? 'starting…' : `${count(finished)} of ${count(lines.length)} devices finished · ${count(visit.inFlight)} connected now (at most ${count(visit.parallel)}) · ${formatBytes(visit.bytes)} · ${formatRate(visit.bytesPerSec)}`}
        </p>
      </div>
      <ol className="courier-visit-lines" aria-label="Devices in this visit">
        {lines.map((line) => (
          <VisitLine key={line.deviceRef} line={line} />
        ))}
      </ol>
    </section>
  );
}

function VisitLine({ line }: { line: VisitDeviceLine }) {
  const total = line.recordsTotal;
  return (
    <li className={`courier-visit-line is-${line.state}`} data-testid="site-visit-line" data-device-ref={line.deviceRef} data-state={line.state}>
      <span className="courier-visit-name">{line.name}</span>
      <span className={`courier-visit-state is-${line.state}`}>
        {stateWords[line.state]}
      </span>
      <span className="courier-visit-records num">{total === null ? `${count(line.records)} records` : `${count(line.records)} of ${count(total)} records`}</span>
      <span className="courier-visit-bytes num">{formatBytes(line.bytes)}</span>
      <span className="courier-visit-note">{line.note ?? ''}</span>
    </li>
  );
}
