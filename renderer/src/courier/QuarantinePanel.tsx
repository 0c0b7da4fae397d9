import { useState } from 'react';
import { Button, Cell, Column, Row, Table, TableBody, TableHeader } from 'react-aria-components';
import type { QuarantineEntry } from '../../../shared/courier.ts';
import type { AppError } from '../../../shared/errors.ts';
import { formatAgo } from '../../../shared/format.ts';
import { ErrorNotice } from '../ui/ErrorNotice.tsx';
import { useNow } from '../ui/useNow.ts';
import { count, seqSpan } from './courierText.ts';
import { DiscardDialog } from './DiscardDialog.tsx';

/**
 * Rows ClickHouse refused, with the server's words. They do not block the rest; each waits
 * here until the table is fixed (Retry) or a technician gives up on it with a reason (Discard).
 */
export function QuarantinePanel({
  entries,
  total,
  error,
  forwarding,
  names,
  onRetry,
  onDiscarded,
}: {
  entries: readonly QuarantineEntry[] | null;
  total: number;
  error: AppError | null;
  /** A forward is running: retry would be refused until it ends. */
  forwarding: boolean;
  names: ReadonlyMap<string, string>;
  /** Requeue these rows (all when null) and forward them. */
  onRetry: (ids: number[] | null) => void;
  onDiscarded: (discarded: number) => void;
}) {
  const [discarding, setDiscarding] = useState<readonly QuarantineEntry[] | null>(null);
  const shown = entries ?? [];
  return (
    <section className="courier-section" aria-labelledby="quarantine-heading" data-testid="quarantine-panel">
      <header className="courier-section-header">
        <h2 id="quarantine-heading">Quarantine</h2>
        <p className="courier-section-summary num">
          {entries === null ? '' : total === 0 ? 'Nothing refused by ClickHouse.' : `${count(total)} row${total === 1 ? '' : 's'} refused by ClickHouse, set aside; the rest kept flowing.`}
        </p>
        {total > 0 && (
          <div className="header-actions">
            <Button
              className="button is-small"
              isDisabled={forwarding}
              onPress={() => {
                onRetry(null);
              }}
            >
              Retry all
            </Button>
            <Button
              className="button is-small"
              onPress={() => {
                setDiscarding(shown);
              }}
            >
              Discard all…
            </Button>
          </div>
        )}
      </header>
      {error !== null && <ErrorNotice error={error} />}
      {shown.length > 0 && (
        <>
          <p className="quarantine-advice">Fix what the server complains about (usually the table&apos;s schema), then Retry. Discard only rows that can never be stored; the reason is kept with them.</p>
          <QuarantineTable
            entries={shown}
            names={names}
            forwarding={forwarding}
            onRetry={onRetry}
            onDiscard={(entry) => {
              setDiscarding([entry]);
            }}
          />
          {total > shown.length && <p className="muted">Showing the first {count(shown.length)}.</p>}
        </>
      )}
      {discarding !== null && (
        <DiscardDialog
          entries={discarding}
          onClose={() => {
            setDiscarding(null);
          }}
          onDiscarded={(discarded) => {
            setDiscarding(null);
            onDiscarded(discarded);
          }}
        />
      )}
    </section>
  );
}

type QuarantineTableProps = {
  entries: readonly QuarantineEntry[];
  names: ReadonlyMap<string, string>;
  forwarding: boolean;
  onRetry: (ids: number[]) => void;
  onDiscard: (entry: QuarantineEntry) => void;
};

/** One row per refused record (or loss record): where from, the server's reason, the row as sent, Retry and Discard. */
function QuarantineTable({ entries, names, forwarding, onRetry, onDiscard }: QuarantineTableProps) {
  const now = useNow(30_000);
  return (
    <Table aria-label="Rows refused by ClickHouse" className="data-table is-dense quarantine-table">
      <TableHeader>
        <Column isRowHeader className="col-q-device">
          Device
        </Column>
        <Column className="col-q-seq">Seq</Column>
        <Column className="col-q-reason">Server&apos;s reason</Column>
        <Column className="col-q-row">Row as sent</Column>
        <Column className="col-q-tries">Tries</Column>
        <Column className="col-q-when">Since</Column>
        <Column className="col-q-actions">
          <span className="visually-hidden">Actions</span>
        </Column>
      </TableHeader>
      <TableBody>
        {entries.map((entry) => (
          <Row key={entry.id} id={entry.id} className="data-row quarantine-row" data-testid="quarantine-row" data-quarantine-id={entry.id}>
            <Cell className="col-q-device">
              <span className="courier-device-name">{names.get(entry.device_id) ?? entry.device_id}</span>
              <span className="courier-agent-id" title={`journal ${entry.journal_id}`}>
                {entry.kind === 'loss' ? 'loss record' : 'record'} · journal {entry.journal_id.slice(0, 8)}
              </span>
            </Cell>
            <Cell className="col-q-seq num">{seqSpan(entry.seq, entry.to_seq)}</Cell>
            <Cell className="col-q-reason">
              <span className="quarantine-reason">{entry.reason}</span>
            </Cell>
            <Cell className="col-q-row">
              <code className="quarantine-preview" title={entry.preview}>
                {entry.preview}
              </code>
            </Cell>
            <Cell className="col-q-tries num">{count(entry.attempts)}</Cell>
            <Cell className="col-q-when num">{formatAgo(entry.quarantined_ms, now)}</Cell>
            <Cell className="col-q-actions">
              <div className="courier-actions">
                <Button
                  className="button is-small"
                  isDisabled={forwarding}
                  onPress={() => {
                    onRetry([entry.id]);
                  }}
                  aria-label={`Retry ${seqSpan(entry.seq, entry.to_seq)} of ${entry.device_id}`}
                >
                  Retry
                </Button>
                <Button
                  className="button is-small"
                  onPress={() => {
                    onDiscard(entry);
                  }}
                  aria-label={`Discard ${seqSpan(entry.seq, entry.to_seq)} of ${entry.device_id}`}
                >
                  Discard…
                </Button>
              </div>
            </Cell>
          </Row>
        ))}
      </TableBody>
    </Table>
  );
}
