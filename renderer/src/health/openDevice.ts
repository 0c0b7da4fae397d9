import { memoryKey } from '../ui/ScreenMemory.tsx';

/** A device whose page Health should open when next shown (Devices sets it: Enter on a row); taken once. */
export const openDeviceKey = memoryKey<string | null>('health.openDevice');
