/**
 * The demo site: three real agents running on this laptop (Local link), fed by
 * synthetic producers and a simulated thermal zone each, so a newcomer can discover,
 * pull, forward and watch health with no hardware. Their journals live in the data folder and survive restarts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DeviceStore } from '../devices/index.ts';
import { shellQuote } from '../kernel/link/shellQuote.ts';
import { freePort } from '../kernel/net/freePort.ts';
import { startDemoThermal } from './demoThermal.ts';
import { startSyntheticProducer } from './syntheticProducer.ts';

export const demoSiteName = 'Demo site';
const demoDevices = ['demo-pi-01', 'demo-pi-02', 'demo-pi-03'] as const;

export type DemoSite = { deviceIds: readonly string[]; stop(): Promise<void> };

/** How to run the agent here: its source under Node, or the bundle beside the app's. */
export function demoAgentCommand(env: NodeJS.ProcessEnv = process.env): { execPath: string; entry: string; env: Record<string, string> } {
  const fromSource = import.meta.url.endsWith('.ts');
  const entry = fileURLToPath(new URL(fromSource ? '../../agent/main.ts' : './agent.mjs', import.meta.url));
  // Inside Electron, process.execPath is the app: it runs plain Node with this variable.
  return { execPath: process.execPath, entry, env: env.ELECTRON_RUN_AS_NODE !== undefined || process.versions.electron ? { ELECTRON_RUN_AS_NODE: '1' } : {} };
}


export async function startDemoSite(options: { dataDir: string; devices: DeviceStore; eventsPerSecond?: number; log?: (line: string) => void }): Promise<DemoSite> {
  const agent = demoAgentCommand();
  const children: ChildProcess[] = [];
  const stopProducers: (() => void)[] = [];
  for (const [index, deviceId] of demoDevices.entries()) {
    const home = join(options.dataDir, 'demo', deviceId);
    mkdirSync(join(home, 'data'), { recursive: true });
    const port = await freePort();
    const configPath = join(home, 'config.json');
    writeFileSync(
      configPath,
      JSON.stringify(
        {
          device_id: deviceId,
          site: demoSiteName,
          data_dir: join(home, 'data'),
          model_version: 'yolo-v8n-2026.10',
          ingest: { port },
          retention: { budget_bytes: 64 * 1024 * 1024 },
          // The laptop has no Pi thermal zone: each agent reads its own (demoThermal.ts).
          health: { vcgencmd: null, nvme: null, sys_root: join(home, 'sys') },
        },
        null,
        2,
      ),
    );
    stopProducers.push(startDemoThermal({ sysRoot: join(home, 'sys'), baseC: 48 + index * 3.5 }));
    const envPrefix = Object.entries(agent.env).map(([k, v]) => `${k}=${v} `).join('');
    const command = `${envPrefix}exec ${shellQuote(agent.execPath)} ${shellQuote(agent.entry)} --config ${shellQuote(configPath)}`;
    const child = spawn('/bin/sh', ['-c', `${command} run`], { stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr.on('data', () => undefined); // the agent logs JSON lines; the demo does not need them
    children.push(child);
    if (!options.devices.list().some((d) => d.link.kind === 'local' && d.name === deviceId)) {
      options.devices.add({ name: deviceId, site: demoSiteName, link: { kind: 'local', agentCommand: `${command} rpc` } }, Date.now());
    } else {
      // The agent command carries the entry path, which moves with the app: keep it current.
      const device = options.devices.list().find((d) => d.link.kind === 'local' && d.name === deviceId);
      if (device) options.devices.setLink(device.id, { kind: 'local', agentCommand: `${command} rpc` });
    }
    stopProducers.push(startSyntheticProducer({ port, deviceIndex: index, eventsPerSecond: options.eventsPerSecond ?? 20 }));
  }
  options.log?.(`demo site: ${demoDevices.length} agents running on this computer`);
  return {
    deviceIds: demoDevices,
    stop: async () => {
      for (const stop of stopProducers) stop();
      await Promise.all(
        children.map(
          (child) =>
            new Promise<void>((resolve) => {
              if (child.exitCode !== null) {
                resolve();
                return;
              }
              child.once('exit', () => {
                resolve();
              });
              child.kill('SIGTERM');
              setTimeout(() => child.kill('SIGKILL'), 5000).unref();
            }),
        ),
      );
    },
  };
}
