import { Cell, Column, Row, Table, TableBody, TableHeader } from 'react-aria-components';
import { driveModel, type Drive } from '../../../shared/drives.ts';
import { formatBytes, formatExactBytes } from '../../../shared/format.ts';
import { DriveFlags } from './DriveFlags.tsx';
import { DriveStatus } from './DriveStatus.tsx';
import { ReadCheckCell } from './ReadCheckCell.tsx';
import { tabThroughRows } from '../ui/tabThroughRows.ts';

/** Every attached drive, one dense row each; refused drives muted but fully explained. */
export function DriveTable({ drives }: { drives: readonly Drive[] }) {
  return (
    <div className="tab-scope" onKeyDownCapture={tabThroughRows}>
      <Table aria-label="Attached drives" className="data-table drive-table">
        <TableHeader>
          <Column isRowHeader className="col-drive">Drive</Column>
          <Column className="col-size">Size</Column>
          <Column className="col-flags">Bus and kind</Column>
          <Column className="col-mounts">Mounted at</Column>
          <Column className="col-status">Status</Column>
          <Column className="col-check">Read check</Column>
        </TableHeader>
        <TableBody renderEmptyState={() => <EmptyDrives />}>
          {drives.map((drive) => (
            <Row
              key={drive.device}
              id={drive.device}
              className={driveRowClass(drive)}
              data-testid="drive-row"
              data-device={drive.device}
              data-flashable={drive.flashable}
            >
              <Cell className="col-drive">
                <span className="device-path">{drive.device}</span>
                {drive.partitionTableType !== null && (
                  <span className="device-table" title="Partition table">
                    {drive.partitionTableType.toUpperCase()}
                  </span>
                )}
                <DriveDescription drive={drive} />
              </Cell>
              <Cell className="col-size num">
                {drive.sizeBytes === null ? (
                  <span className="muted">unknown</span>
                ) : (
                  <span title={formatExactBytes(drive.sizeBytes)}>{formatBytes(drive.sizeBytes)}</span>
                )}
              </Cell>
              <Cell className="col-flags">
                <DriveFlags drive={drive} />
              </Cell>
              <Cell className="col-mounts">
                <Mountpoints drive={drive} />
              </Cell>
              <Cell className="col-status">
                <DriveStatus drive={drive} />
              </Cell>
              <Cell className="col-check">
                <ReadCheckCell drive={drive} />
              </Cell>
            </Row>
          ))}
        </TableBody>
      </Table>
    </div>
  );
}

function driveRowClass(drive: Drive): string {
  if (drive.flashable) return 'data-row has-state-edge drive-row';
  return drive.isSystem ? 'data-row has-state-edge drive-row is-refused is-system' : 'data-row has-state-edge drive-row is-refused';
}

function DriveDescription({ drive }: { drive: Drive }) {
  const model = driveModel(drive);
  if (model === null) return <span className="device-description muted">No model name</span>;
  return <span className="device-description">{model}</span>;
}

function Mountpoints({ drive }: { drive: Drive }) {
  if (drive.mountpoints.length === 0) return <span className="muted">Not mounted</span>;
  return (
    <ul className="mountpoints">
      {drive.mountpoints.map((mount) => (
        <li key={mount.path}>
          <span className="mount-path">{withBreaksAfterSlashes(mount.path)}</span>
          {mount.label !== null && mount.label !== '' && <span className="mount-label"> ({mount.label})</span>}
        </li>
      ))}
    </ul>
  );
}

/** Long paths wrap after a slash, never inside a folder name. */
function withBreaksAfterSlashes(path: string) {
  return path.split(/(?<=[/\\])/).map((part, index) => (
    <span key={index}>
      {part}
      <wbr />
    </span>
  ));
}

function EmptyDrives() {
  return (
    <p className="drives-empty">No drives found. Insert an SD card, USB stick or NVMe enclosure; it appears here within 2 seconds.</p>
  );
}
