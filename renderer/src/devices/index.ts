/**
 * What other renderer folders may use from devices/ (the only door into this folder):
 * the live list of registered devices, which Deploy and Courier offer to pick from.
 */
export { useDevices } from './useDevices.ts';
