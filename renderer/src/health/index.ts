/** What other screens use of health: Devices opens a device's health page. */
export { openDeviceKey } from './openDevice.ts';
