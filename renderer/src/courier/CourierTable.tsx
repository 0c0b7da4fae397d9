import { Button, Cell, Column, Row, Table, TableBody, TableHeader } from 'react-aria-components';
import type { ReconcileJournal } from '../../../shared/courier.ts';
import { formatAgo } from '../../../shared/format.ts';
import type { JobView } from '../jobs/jobStore.ts';
import { useNow } from '../ui/useNow.ts';
import { CourierJobProgress } from './CourierJobProgress.tsx';
import { rowReconcile, throughSeq, type CourierDeviceRow, type RowReconcile } from './courierRows.ts';
import { count } from './courierText.ts';
import { tabThroughRows } from '../ui/tabThroughRows.ts';

const exactTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });

/** One row per device: what this laptop holds of it, what still has to travel, and Pull. */
export function CourierTable({
  rows,
  pulls,
  starting,
  reconciled,
  onPull,
}: {
  rows: readonly CourierDeviceRow[];
  pulls: ReadonlyMap<string, JobView>;
  /** Devices whose Pull was pressed and whose job has not shown up yet. */
  starting: ReadonlySet<string>;
  reconciled: readonly ReconcileJournal[] | null;
  onPull: (row: CourierDeviceRow) => void;
}) {
  const now = useNow(15_000);
  return (
    <div className="tab-scope" onKeyDownCapture={tabThroughRows}>
      <Table aria-label="Journals per device" className="data-table is-dense courier-table">
        <TableHeader>
          <Column isRowHeader className="col-device">
            Device
          </Column>
          <Column className="col-site">Site</Column>
          <Column className="is-num col-held">Held</Column>
          <Column className="is-num col-pending">To forward</Column>
          <Column className="col-through is-num">Through seq</Column>
          <Column className="is-num col-lost">Lost on device</Column>
          <Column className="is-num col-quarantined">Quarantined</Column>
          <Column className="col-when">Last pull</Column>
          <Column className="col-when">Last forward</Column>
          <Column className="col-reconcile">Reconcile</Column>
          <Column className="col-actions">
            <span className="visually-hidden">Actions</span>
          </Column>
        </TableHeader>
        <TableBody renderEmptyState={() => <p className="courier-empty">No devices yet. Add one on Devices, or start fieldkit with the demo site.</p>}>
          {rows.map((row) => {
            const reconcile = rowReconcile(row, reconciled);
            const pull = row.device === null ? undefined : pulls.get(row.device.id);
            return (
              <Row
                key={row.key}
                id={row.key}
                className={`data-row has-state-edge courier-row tone-${rowTone(row, reconcile)}`}
                data-testid="courier-row"
                data-device-id={row.agentDeviceId ?? ''}
                data-device-ref={row.device?.id ?? ''}
                data-reconcile={reconcile.kind}
              >
                <Cell className="col-device">
                  <span className="courier-device-name">{row.name}</span>
                  {row.agentDeviceId !== null && row.agentDeviceId !== row.name && <span className="courier-agent-id">{row.agentDeviceId}</span>}
                  {row.device === null && <span className="courier-agent-id">removed from this laptop</span>}
                </Cell>
                <Cell className="col-site">{row.site === '' ? <span className="muted">—</span> : row.site}</Cell>
                <Cell className="is-num num">{row.journals.length === 0 ? <span className="muted">—</span> : count(row.held)}</Cell>
                <Cell className="is-num num">
                  {row.journals.length === 0 ? <span className="muted">—</span> : <span className={row.pending > 0 ? 'courier-pending-count' : 'muted'}>{count(row.pending)}</span>}
                </Cell>
                <Cell className="col-through is-num num">
                  <ThroughSeq row={row} />
                </Cell>
                <Cell className="is-num num">
                  <LostOnDevice row={row} />
                </Cell>
                <Cell className="is-num num">
                  {row.journals.length === 0 ? <span className="muted">—</span> : row.quarantined === 0 ? <span className="muted">0</span> : <span className="tag is-caution">{count(row.quarantined)}</span>}
                </Cell>
                <Cell className="col-when num">{when(row.lastPullMs, now)}</Cell>
                <Cell className="col-when num">{row.journals.length === 0 ? <span className="muted">—</span> : when(row.lastForwardMs, now)}</Cell>
                <Cell className="col-reconcile">
                  <ReconcileCell reconcile={reconcile} />
                </Cell>
                <Cell className="col-actions">
                  {pull !== undefined ? (
                    <CourierJobProgress job={pull} label={`pull from ${row.name}`} compact />
                  ) : row.device === null ? null : (
                    <div className="courier-actions">
                      <Button
                        className="button is-small"
                        isPending={starting.has(row.device.id)}
                        onPress={() => {
                          onPull(row);
                        }}
                        aria-label={`Pull ${row.name}`}
                      >
                        Pull
                      </Button>
                    </div>
                  )}
                </Cell>
              </Row>
            );
          })}
        </TableBody>
      </Table>
    </div>
  );
}

function when(epochMs: number | null, now: number) {
  if (epochMs === null) return <span className="muted">never</span>;
  return <span title={exactTime.format(epochMs)}>{formatAgo(epochMs, now)}</span>;
}

function ReconcileCell({ reconcile }: { reconcile: RowReconcile }) {
  switch (reconcile.kind) {
    case 'unchecked':
      return <span className="muted">not checked</span>;
    case 'complete':
      return (
        <span className="reconcile-verdict is-complete">
          <span aria-hidden="true">✓ </span>complete
        </span>
      );
    case 'not_yet_pulled':
      return (
        <span className="reconcile-verdict is-not_yet_pulled" title={`${reconcile.badge}: everything pulled is in ClickHouse; ${reconcile.estimated ? 'about ' : ''}${count(reconcile.records)} more records are still on the device: pull it.`}>
          <span aria-hidden="true">◔ </span>
          {reconcile.estimated ? '~' : ''}
          {count(reconcile.records)} not yet pulled
        </span>
      );
    case 'missing':
      return (
        <span className="reconcile-verdict is-missing">
          <span aria-hidden="true">! </span>
          {count(reconcile.records)} missing
        </span>
      );
  }
}

function rowTone(row: CourierDeviceRow, reconcile: RowReconcile): 'ok' | 'warn' | 'idle' | 'pending' {
  if (row.quarantined > 0 || reconcile.kind === 'missing') return 'warn';
  if (row.pending > 0 || reconcile.kind === 'not_yet_pulled') return 'pending';
  if (reconcile.kind === 'complete') return 'ok';
  return 'idle';
}

/** Per journal: the seq held here without a gap, of the device's last seq at the last pull. */
function ThroughSeq({ row }: { row: CourierDeviceRow }) {
  if (row.journals.length === 0) return <span className="muted">not pulled</span>;
  return row.journals.map((journal) => {
    const { through, of } = throughSeq(journal);
    return (
      <span key={journal.journal_id} className="courier-through" title={`journal ${journal.journal_id}: every seq up to ${count(through)} is held here or explained by a loss record; the device had written ${count(of)} at the last pull`}>
        {count(through)} of {count(of)}
      </span>
    );
  });
}

/** Records the device dropped (retention) and explained with loss records. */
function LostOnDevice({ row }: { row: CourierDeviceRow }) {
  if (row.journals.length === 0) return <span className="muted">—</span>;
  if (row.lostRecords === 0) return <span className="muted">0</span>;
  return (
    <span className="courier-lost-count" title={`${count(row.losses)} loss record${row.losses === 1 ? '' : 's'} from the device (retention): the records were dropped on the device and the gap is explained`}>
      {count(row.lostRecords)}
    </span>
  );
}
