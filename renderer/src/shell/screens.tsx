import type { ReactNode } from 'react';
import { BackupsScreen } from '../backup/BackupsScreen.tsx';
import { CourierScreen } from '../courier/CourierScreen.tsx';
import { DeployScreen } from '../deploy/DeployScreen.tsx';
import { DevicesScreen } from '../devices/DevicesScreen.tsx';
import { DrivesScreen } from '../drives/DrivesScreen.tsx';
import { FlashPanel } from '../flash/FlashPanel.tsx';
import { HealthScreen } from '../health/HealthScreen.tsx';
import { SettingsScreen } from '../settings/SettingsScreen.tsx';

export type ScreenId = 'drives' | 'devices' | 'deploy' | 'courier' | 'health' | 'settings' | 'backup';

export type Screen = {
  id: ScreenId;
  label: string;
  render: () => ReactNode;
};

/** In navigation order; Alt+1 … Alt+7 follow this order. */
export const screens: readonly Screen[] = [
  { id: 'drives', label: 'Drives & Flash', render: () => <DrivesScreen flashPanel={<FlashPanel />} /> },
  { id: 'devices', label: 'Devices', render: () => <DevicesScreen /> },
  { id: 'deploy', label: 'Deploy', render: () => <DeployScreen /> },
  { id: 'courier', label: 'Courier', render: () => <CourierScreen /> },
  { id: 'health', label: 'Health', render: () => <HealthScreen /> },
  { id: 'settings', label: 'Settings', render: () => <SettingsScreen /> },
  // Last, so Alt+1 … Alt+6 keep taking technicians (and the tests) where they always did.
  { id: 'backup', label: 'Backups', render: () => <BackupsScreen /> },
];

export function isScreenId(value: unknown): value is ScreenId {
  return screens.some((screen) => screen.id === value);
}
