/**
 * Runs inside a throwaway network namespace (its own loopback with multicast on): a
 * responder advertises `_ssh._tcp` as avahi on a Pi does, and fieldkit's browse looks
 * for it. Prints what the browse found as JSON. Started by test/integration/devices-mdns.test.ts.
 */
import makeMdns from 'multicast-dns';
import { browseSshServices } from '../../electron/devices/discovery/browseMdns.ts';

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

const found = await browseSshServices({ timeoutMs: 1500, signal: new AbortController().signal, interfaceAddress: '127.0.0.1' });
responder.destroy();
process.stdout.write(JSON.stringify(found));
