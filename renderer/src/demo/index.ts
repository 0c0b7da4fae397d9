/** The demo site's notices, for the screens that say what the demo can and cannot do. */
export { DemoNotice } from './DemoNotice.tsx';
export { demoClickHouseText, demoDeployText } from './demoText.ts';
