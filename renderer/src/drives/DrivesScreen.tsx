import type { ReactNode } from 'react';
import { Button } from 'react-aria-components';
import { ErrorNotice } from '../ui/ErrorNotice.tsx';
import { DriveTable } from './DriveTable.tsx';
import { orderDrivesForDisplay } from './driveOrder.ts';
import { useDrives } from './useDrives.ts';
import './drives.css';

/**
 * Drives & Flash: flash an image to drives, and what is plugged in, whether each may be
 * flashed, and read checks. The flash panel comes from the shell (`flashPanel`), so this
 * folder does not import `flash/`, which itself reads the drive order from here.
 */
export function DrivesScreen({ flashPanel }: { flashPanel: ReactNode }) {
  const { value: drives, error, loading, reload } = useDrives();
  const targets = drives?.filter((drive) => drive.flashable).length ?? 0;
  return (
    <div className="screen drives-screen">
      <header className="screen-header">
        <h1>Drives &amp; Flash</h1>
        <p className="screen-summary num" aria-live="polite">
          {drives === null ? (loading ? 'Looking for drives…' : '') : driveCount(drives.length, targets)}
        </p>
        <span className="live-note">Updates live as drives come and go</span>
        <Button className="button is-quiet" onPress={reload} isPending={loading && drives !== null}>
          {loading && drives !== null ? 'Refreshing…' : 'Refresh'}
        </Button>
      </header>
      {flashPanel}
      <h2 className="section-heading">Attached drives</h2>
      {error !== null && <ErrorNotice error={error} announce />}
      {drives !== null && <DriveTable drives={orderDrivesForDisplay(drives)} />}
    </div>
  );
}

function driveCount(total: number, targets: number): string {
  if (total === 0) return 'No drives';
  return `${total} drive${total === 1 ? '' : 's'} · ${targets} can be flashed`;
}
