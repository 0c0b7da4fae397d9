import { Fragment } from 'react';
import { Button, CheckboxButton, CheckboxField } from 'react-aria-components';
import type { BackupFreshness } from '../../../shared/backup.ts';
import type { BackupClass } from '../../../shared/backupStream.ts';
import { backupClasses, rowTone, type BackupDeviceRow } from './backupRows.ts';
import { classDescriptions, classLabels, copiesWords, freshnessWords } from './backupText.ts';
import { DeviceBackups } from './DeviceBackups.tsx';

const stateMark = { ok: '✓', stale: '⚠', never: '—' } as const;

type BackupTableProps = {
  rows: readonly BackupDeviceRow[];
  selected: ReadonlySet<string>;
  onSelect: (deviceRef: string, selected: boolean) => void;
  expanded: ReadonlySet<string>;
  onExpand: (key: string, expanded: boolean) => void;
  /** Devices whose backup was just asked for and whose job has not shown up yet. */
  starting: ReadonlySet<string>;
  /** A backup job is running: one at a time per laptop. */
  busy: boolean;
  onBackUp: (row: BackupDeviceRow) => void;
};

/** One row per device, one column per class: the last good backup, whether it is within its window, where copies are. */
export function BackupTable({ rows, selected, onSelect, expanded, onExpand, starting, busy, onBackUp }: BackupTableProps) {
  return (
    <table className="data-table is-dense backup-table" aria-label="Backups per device and class">
      <thead>
        <tr>
          <th className="col-select">
            <span className="visually-hidden">Selected</span>
          </th>
          <th className="col-device">Device</th>
          <th className="col-site">Site</th>
          {backupClasses.map((c) => (
            <th key={c} className="col-class" title={classDescriptions[c]}>
              {classLabels[c]}
            </th>
          ))}
          <th className="col-actions">
            <span className="visually-hidden">Actions</span>
          </th>
        </tr>
      </thead>
      <tbody>
        {rows.map((row) => {
          const open = expanded.has(row.key);
          const device = row.device;
          return (
            <Fragment key={row.key}>
              <tr className={`data-row has-state-edge backup-row tone-${rowTone(row)}`} data-testid="backup-row" data-device-name={row.name} data-device-id={row.agentDeviceId ?? ''} data-stale={row.staleClasses.join(' ')}>
                <td className="col-select">
                  {device !== null && (
                    <CheckboxField isSelected={selected.has(device.id)} onChange={(on) => { onSelect(device.id, on); }}>
                      <CheckboxButton className="plain-checkbox" aria-label={`Select ${row.name}`}>
                        <span className="checkbox-box" aria-hidden="true" />
                      </CheckboxButton>
                    </CheckboxField>
                  )}
                </td>
                <td className="col-device">
                  <Button className="backup-expand" onPress={() => { onExpand(row.key, !open); }} aria-expanded={open} aria-label={`${open ? 'Hide' : 'Show'} snapshots of ${row.name}`}>
                    <span className="backup-expand-mark" aria-hidden="true">{open ? '▾' : '▸'}</span>
                    <span className="backup-device-name">{row.name}</span>
                  </Button>
                  {row.agentDeviceId !== null && row.agentDeviceId !== row.name && <span className="backup-agent-id">{row.agentDeviceId}</span>}
                  {device === null && <span className="backup-agent-id">removed from this laptop</span>}
                  {row.problems.length > 0 && <span className="backup-problem-flag">! verification failed</span>}
                </td>
                <td className="col-site">{row.site === '' ? <span className="muted">—</span> : row.site}</td>
                {backupClasses.map((c) => (
                  <td key={c} className="col-class">
                    <FreshnessCell backupClass={c} freshness={row.classes[c]} />
                  </td>
                ))}
                <td className="col-actions">
                  {device !== null && (
                    <div className="row-actions">
                      <Button className="button is-small" isPending={starting.has(device.id)} isDisabled={busy} onPress={() => { onBackUp(row); }} aria-label={`Back up ${row.name}`}>
                        Back up
                      </Button>
                    </div>
                  )}
                </td>
              </tr>
              {open && (
                <tr className="backup-detail-row">
                  <td colSpan={4 + backupClasses.length}>
                    <DeviceBackups row={row} spares={sparesFor(rows, row)} />
                  </td>
                </tr>
              )}
            </Fragment>
          );
        })}
      </tbody>
    </table>
  );
}

function FreshnessCell({ backupClass, freshness }: { backupClass: BackupClass; freshness: BackupFreshness | null }) {
  const words = freshnessWords(freshness);
  return (
    <div className={`freshness is-${words.state}`} data-testid="freshness" data-class={backupClass} data-state={words.state} title={words.sentence}>
      <span className="freshness-verdict">
        <span aria-hidden="true">{stateMark[words.state]} </span>
        {words.verdict}
      </span>
      {words.latest !== null && <span className="freshness-latest num">{words.latest}</span>}
      {freshness !== null && freshness.lastGoodAt !== null && <span className="freshness-copies">on {copiesWords(freshness.copies)}</span>}
      {(freshness?.lastError ?? null) !== null && <span className="freshness-error">last attempt failed</span>}
      {(freshness?.problem ?? null) !== null && <span className="freshness-error">verification failed</span>}
    </div>
  );
}

/** Devices a drill of `row` may restore onto: the others reached over SSH (a local agent shares this machine's files with the source). */
function sparesFor(rows: readonly BackupDeviceRow[], row: BackupDeviceRow): { id: string; name: string }[] {
  return rows.flatMap((r) => (r.device === null || r.key === row.key || r.device.link.kind !== 'ssh' ? [] : [{ id: r.device.id, name: r.name }]));
}
