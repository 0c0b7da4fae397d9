import type { ReconcileJournal, ReconcileResult } from '../../../shared/courier.ts';
import type { AppError } from '../../../shared/errors.ts';
import { ErrorNotice } from '../ui/ErrorNotice.tsx';
import { count, reasonAdvice, reasonText, reasonTone, records, seqSpan } from './courierText.ts';

const clock = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });

/**
 * The last reconcile, journal by journal: complete through which seq and as of which pull
 * (shared/courierVerdict.ts words it), what is still on the device, each missing range
 * with why it is missing, and rows ClickHouse still has to merge away.
 */
export function ReconcilePanel({
  result,
  error,
  checking,
  stale,
  names,
}: {
  result: ReconcileResult | null;
  error: AppError | null;
  checking: boolean;
  /** A pull or forward ended after this result was taken. */
  stale: boolean;
  /** Device names by agent device id, where this laptop knows them. */
  names: ReadonlyMap<string, string>;
}) {
  const complete = result?.journals.filter((j) => j.status === 'complete').length ?? 0;
  return (
    <section className="courier-section" aria-labelledby="reconcile-heading" data-testid="reconcile-panel" aria-busy={checking}>
      <header className="courier-section-header">
        <h2 id="reconcile-heading">Reconcile with ClickHouse</h2>
        {result !== null && (
          <p className="courier-section-summary num">
            {result.journals.length === 0
              ? 'Nothing pulled yet, so nothing to compare.'
              : `${complete} of ${result.journals.length} journal${result.journals.length === 1 ? '' : 's'} complete · checked ${clock.format(result.checkedMs)} against ${result.table} on ClickHouse ${result.serverVersion}`}
          </p>
        )}
        {checking && <p className="courier-section-summary">Asking ClickHouse…</p>}
      </header>
      {error !== null && <ErrorNotice error={error} announce />}
      {stale && result !== null && !checking && (
        <p className="inline-warning">A pull or forward has finished since this check: press Reconcile again for the current picture.</p>
      )}
      {result !== null && result.journals.length > 0 && (
        <ul className="reconcile-list">
          {result.journals.map((journal) => (
            <ReconcileItem key={`${journal.device_id}\n${journal.journal_id}`} journal={journal} name={names.get(journal.device_id) ?? journal.device_id} />
          ))}
        </ul>
      )}
    </section>
  );
}

const verdictMarks: Record<ReconcileJournal['status'], string> = { complete: '✓ ', not_yet_pulled: '◔ ', missing: '! ' };

function ReconcileItem({ journal, name }: { journal: ReconcileJournal; name: string }) {
  const ch = journal.clickhouse;
  const more = journal.missing_ranges_total - journal.missing.length;
  return (
    <li className={`reconcile-item is-${journal.status}`} data-testid="reconcile-status" data-device-id={journal.device_id} data-journal-id={journal.journal_id} data-status={journal.status}>
      <div className="reconcile-head">
        <span className="reconcile-device">{name}</span>
        <span className="reconcile-journal" title={`journal ${journal.journal_id}`}>
          journal {journal.journal_id.slice(0, 8)}
        </span>
        <span className={`reconcile-verdict is-${journal.status}`}>
          <span aria-hidden="true">{verdictMarks[journal.status]}</span>
          {journal.badge}
        </span>
        <span className="reconcile-facts num">
          {journal.expected_through === 0
            ? 'the device has journaled nothing yet'
            : `seq 1–${count(journal.expected_through)} expected · ClickHouse has ${count(ch.distinct)} distinct${ch.distinct === 0 ? '' : ` (${count(ch.min_seq)}–${count(ch.max_seq)})`}`}
        </span>
        {journal.duplicates_awaiting_merge > 0 && (
          <span className="tag" title="Rows sent twice (a retried batch). ReplacingMergeTree merges them away in the background; queries with FINAL already count each once.">
            {count(journal.duplicates_awaiting_merge)} duplicate{journal.duplicates_awaiting_merge === 1 ? '' : 's'} awaiting merge
          </span>
        )}
      </div>
      <p className="reconcile-says" data-testid="reconcile-verdict">
        {journal.verdict}
      </p>
      {journal.missing.length > 0 && (
        <ul className="missing-list">
          {journal.missing.map((range) => (
            <li key={`${range.from_seq}`} className={`missing-range is-${reasonTone(range.reason)}`} data-reason={range.reason}>
              <span className="missing-span num">{seqSpan(range.from_seq, range.to_seq)}</span>
              <span className="missing-count num">{records(range.count)}</span>
              <span className="missing-reason">{reasonText(range)}</span>
              <span className="missing-advice">{reasonAdvice[range.reason]}</span>
            </li>
          ))}
          {more > 0 && <li className="missing-more">and {count(more)} more range{more === 1 ? '' : 's'} (fieldkit reconcile lists them all)</li>}
        </ul>
      )}
    </li>
  );
}
