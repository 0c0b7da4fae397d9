import { useState } from 'react';
import { ErrorNotice } from '../ui/ErrorNotice.tsx';
import { useHandedOver } from '../ui/ScreenMemory.tsx';
import { openDeviceKey } from './openDevice.ts';
import { DevicePage } from './DevicePage.tsx';
import { FleetGrid } from './FleetGrid.tsx';
import { useFleetHealth } from './useFleetHealth.ts';
import './health.css';
import './device-page.css';

/**
 * Health: the fleet grid (which Pi is cooking, which browned out, whose journal backs up),
 * and a device page with per-second charts when a tile is opened. The watch stays on
 * while either is shown, so going back to the grid is instant.
 */
export function HealthScreen() {
  const { store, snapshot, error } = useFleetHealth();
  // Devices hands over a device to open (Enter on its row); otherwise Health opens on the fleet.
  const [open, setOpen] = useState(useHandedOver(openDeviceKey, null));
  return (
    <div className="screen health-screen">
      <header className="screen-header">
        <h1>Health</h1>
      </header>
      {error !== null && <ErrorNotice error={error} announce />}
      {open === null ? (
        <FleetGrid views={snapshot.views} loaded={snapshot.loaded} onOpen={setOpen} />
      ) : (
        <DevicePage
          deviceId={open}
          store={store}
          onBack={() => {
            setOpen(null);
          }}
        />
      )}
    </div>
  );
}
