/**
 * What other renderer folders may use from drives/ (the only door into this folder):
 * the Flash panel lists drives in the same order as the drive table.
 */
export { orderDrivesForDisplay } from './driveOrder.ts';
