/** What other screens use of recovery: the Backups screen shows a device's Recovery section and the replace wizard. */
export { DeviceRecovery } from './DeviceRecovery.tsx';
export { ReplaceWizard } from './ReplaceWizard.tsx';
