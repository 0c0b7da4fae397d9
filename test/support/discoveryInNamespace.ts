/**
 * Runs inside a throwaway network namespace (test/integration/devices-mdns.test.ts): a real sshd on
 * its loopback, a responder advertising `_ssh._tcp` as avahi on a Pi does, and the whole
 * discovery job with serial listing that cannot work (no udevadm on the PATH it is given,
 * no /sys). Prints the job's result and its log as JSON.
 */
import makeMdns from 'multicast-dns';
import { runDiscovery } from '../../electron/devices/discovery/discoverDevices.ts';
import type { JobContext } from '../../electron/kernel/jobs/jobContext.ts';
import { startSshd } from './sshd.ts';
import { makeTempDir } from './tempDir.ts';

const sshd = await startSshd();
const nowhere = makeTempDir('fieldkit-nosys-');
const responder = makeMdns({ interface: '127.0.0.1', bind: '0.0.0.0', loopback: true });
responder.on('query', (query) => {
  if (!query.questions.some((q) => q.name === '_ssh._tcp.local')) return;
  responder.respond({
    answers: [{ name: '_ssh._tcp.local', type: 'PTR', ttl: 120, data: 'pi-07._ssh._tcp.local' }],
    additionals: [
      { name: 'pi-07._ssh._tcp.local', type: 'SRV', ttl: 120, data: { port: 22, target: 'pi-07.local', priority: 0, weight: 0 } },
      { name: 'pi-07.local', type: 'A', ttl: 120, data: '127.0.0.1' },
    ],
  });
});

const logs: string[] = [];
const ctx: JobContext = {
  signal: new AbortController().signal,
  progress: () => undefined,
  log: (level, message) => logs.push(`${level}: ${message}`),
  secrets: {},
};
try {
  const result = await runDiscovery({ subnet: '127.0.0.0/30', port: sshd.port, mdns: true, serial: true, known: [] }, ctx, {
    serial: { platform: 'linux', searchPath: nowhere.path, roots: { sys: `${nowhere.path}/sys`, dev: `${nowhere.path}/dev` } },
  });
  process.stdout.write(JSON.stringify({ result, logs, sshPort: sshd.port, nowhere: nowhere.path }));
} finally {
  responder.destroy();
  await sshd.stop();
  nowhere.remove();
}
