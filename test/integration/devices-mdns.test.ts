import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DiscoveryResult } from '../../shared/devices.ts';

/** mDNS discovery against a real responder, in a network namespace of the test's own. */
describe('mDNS discovery', () => {
  const ns = `fk-mdns-${randomBytes(3).toString('hex')}`;
  beforeAll(() => {
    execFileSync('ip', ['netns', 'add', ns]);
    execFileSync('ip', ['netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up', 'multicast', 'on']);
    execFileSync('ip', ['netns', 'exec', ns, 'ip', 'route', 'add', '224.0.0.0/4', 'dev', 'lo']);
  });
  afterAll(() => {
    execFileSync('ip', ['netns', 'del', ns]);
  });

  it('finds a Pi advertising _ssh._tcp and resolves its address', () => {
    const out = execFileSync('ip', ['netns', 'exec', ns, process.execPath, 'test/support/mdnsInNamespace.ts'], { encoding: 'utf8', timeout: 20_000 });
    expect(JSON.parse(out)).toEqual([{ name: 'pi-07', host: 'pi-07.local', port: 22, address: '127.0.0.1' }]);
  });

  it('still finds SSH by mDNS and by subnet probe when serial ports cannot be listed, and names that source', () => {
    const out = execFileSync('ip', ['netns', 'exec', ns, process.execPath, 'test/support/discoveryInNamespace.ts'], { encoding: 'utf8', timeout: 30_000 });
    const { result, logs, sshPort, nowhere } = JSON.parse(out) as { result: DiscoveryResult; logs: string[]; sshPort: number; nowhere: string };
    expect(result.found).toEqual([
      { kind: 'ssh', address: '127.0.0.1:22', name: 'pi-07', source: 'mdns', detail: 'pi-07.local', known: false },
      { kind: 'ssh', address: `127.0.0.1:${sshPort}`, name: null, source: 'subnet', detail: expect.stringMatching(/^SSH-2\.0-OpenSSH/) as unknown, known: false },
    ]);
    expect(result.probed).toBe(2);
    const unavailable = `serial ports unavailable: udevadm not found, and ${nowhere}/sys/class/tty could not be read (ENOENT)`;
    expect(result.sources).toEqual([{ source: 'serial', state: 'unavailable', message: unavailable }]);
    expect(logs).toContain(`warn: ${unavailable}`);
  });
});
