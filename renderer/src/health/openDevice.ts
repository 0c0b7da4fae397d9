import { memoryKey } from '../ui/ScreenMemory.tsx';

/** The device whose page Health shows (null: the fleet grid); Devices sets it to open a device's page. */
export const openDeviceKey = memoryKey<string | null>('health.openDevice');
