/**
 * The demo domain: a site of three agents on this computer with synthetic producers, and
 * a ClickHouse of its own when one is installed, so the app can be tried without a Pi.
 */
import { join } from 'node:path';
import { devicesService } from '../devices/index.ts';
import { defineDomain } from '../kernel/domain.ts';
import { serviceKey } from '../kernel/domainServices.ts';
import { startDemoClickHouse, type DemoClickHouse } from './demoClickHouse.ts';
import { adoptDemoClickHouse } from './demoClickHouseSettings.ts';
import { demoSiteName, startDemoSite } from './demoSite.ts';

export { demoSiteName } from './demoSite.ts';

/** Run the demo site: true, or 'auto' = only while no real device is registered (default: no). */
export const demoOption = serviceKey<boolean | 'auto'>('the demo option');

export const demoDomain = defineDomain({
  name: 'demo',
  jobKinds: {},
  async start(kernel, services) {
    const devices = services.use(devicesService).store;
    const wanted = services.find(demoOption) ?? false;
    const wantsDemo = wanted === true || (wanted === 'auto' && devices.list().every((d) => d.site === demoSiteName));
    if (!wantsDemo) return { handlers: {} };
    const demo = await startDemoSite({ dataDir: kernel.dataDir, devices });
    kernel.events.emit('devices.changed', { devices: devices.list() });
    let demoClickHouse: DemoClickHouse | null = null;
    const demoDir = join(kernel.dataDir, 'demo');
    const outcome = await startDemoClickHouse({ demoDir });
    if ('started' in outcome) {
      demoClickHouse = outcome.started;
      kernel.info.demo = { clickhouse: { url: outcome.started.url, settings: adoptDemoClickHouse(kernel.db, outcome.started.url, demoDir) } };
    } else {
      kernel.info.demo = { clickhouse: outcome };
    }
    return {
      handlers: {},
      async close() {
        await demo.stop();
        await demoClickHouse?.stop();
      },
    };
  },
  cliCommands: [],
  cliCommandFor: {},
});
