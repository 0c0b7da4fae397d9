import { describe, expect, it } from 'vitest';
import type { Device } from '../../shared/devices.ts';
import { demoClickHouseText, demoDeployText } from '../../renderer/src/demo/demoText.ts';

const local = (name: string): Pick<Device, 'name' | 'link'> => ({ name, link: { kind: 'local', agentCommand: 'fieldkit-agent rpc' } });
const ssh = (name: string): Pick<Device, 'name' | 'link'> => ({ name, link: { kind: 'ssh', host: '10.0.0.7', port: 22, username: 'pi', agentPrefix: '/opt/fieldkit-agent' } });

describe('what the screens say about the demo', () => {
  it('Courier: the demo ClickHouse that Settings point at, or exactly how to get one', () => {
    expect(demoClickHouseText(null)).toBeNull();
    expect(demoClickHouseText({})).toBeNull();
    expect(demoClickHouseText({ demo: { clickhouse: { url: 'http://127.0.0.1:8123/', settings: 'prefilled' } } })?.body).toBe(
      'It runs at http://127.0.0.1:8123/ and is set in Settings → ClickHouse: Pull all, Forward all, then Reconcile.',
    );
    const missing = demoClickHouseText({ demo: { clickhouse: { unavailable: 'no ClickHouse server is installed on this computer', hint: 'Install one: sudo apt install clickhouse-server.' } } });
    expect(missing).toEqual({
      tone: 'warn',
      title: 'No ClickHouse for the demo to forward to',
      body: 'No ClickHouse server is installed on this computer. Install one: sudo apt install clickhouse-server.',
    });
  });

  it('Deploy: why the demo devices cannot be deployed to, only while nothing else can be', () => {
    const text = demoDeployText([local('demo-pi-01'), local('demo-pi-02'), local('demo-pi-03')]);
    expect(text?.title).toBe('Deploy cannot be tried on the demo devices');
    expect(text?.body).toMatch(/^demo-pi-01, demo-pi-02 and demo-pi-03 are agents running as plain processes on this computer\. /);
    expect(text?.body).toContain('npm run bundle:agent');
    expect(demoDeployText([local('demo-pi-01')])?.body).toMatch(/^demo-pi-01 is an agent running/);
    expect(demoDeployText([local('demo-pi-01'), ssh('pi-07')])).toBeNull();
    expect(demoDeployText([])).toBeNull();
  });
});
