import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

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
});
