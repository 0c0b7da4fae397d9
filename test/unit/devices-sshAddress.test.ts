import { isIP } from 'node:net';
import { describe, expect, it } from 'vitest';
import { SshLinkSpecSchema, StoredLinkSpecSchema } from '../../shared/devices.ts';
import { formatSshAddress, hostProblem, isIPv4, isIPv6, parseSshAddress } from '../../shared/sshAddress.ts';
import { checkDeviceForm, initialFormValues } from '../../renderer/src/devices/deviceForm.ts';

const ok = (text: string) => {
  const parsed = parseSshAddress(text);
  if (!parsed.ok) throw new Error(`${text} refused: ${parsed.message}`);
  return parsed.address;
};
const refused = (text: string) => {
  const parsed = parseSshAddress(text);
  if (parsed.ok) throw new Error(`${text} accepted as ${JSON.stringify(parsed.address)}`);
  return parsed;
};

describe('SSH address parsing', () => {
  it.each([
    ['pi@10.0.0.7', { username: 'pi', host: '10.0.0.7', port: null }],
    ['10.0.0.7', { username: null, host: '10.0.0.7', port: null }],
    ['pi@10.0.0.7:2222', { username: 'pi', host: '10.0.0.7', port: 2222 }],
    ['10.0.0.7:22', { username: null, host: '10.0.0.7', port: 22 }],
    ['pi-07.local', { username: null, host: 'pi-07.local', port: null }],
    ['fieldkit-test@pi-07.local:65535', { username: 'fieldkit-test', host: 'pi-07.local', port: 65535 }],
    ['  pi@PI-07.Local  ', { username: 'pi', host: 'PI-07.Local', port: null }],
    ['pi@[fe80::1]:22', { username: 'pi', host: 'fe80::1', port: 22 }],
    ['[2001:db8::7]:2200', { username: null, host: '2001:db8::7', port: 2200 }],
    ['[::1]', { username: null, host: '::1', port: null }],
    ['pi@fe80::1', { username: 'pi', host: 'fe80::1', port: null }],
    ['pi@fe80::1%eth0', { username: 'pi', host: 'fe80::1%eth0', port: null }],
    ['0.0.0.0', { username: null, host: '0.0.0.0', port: null }],
    ['255.255.255.255:1', { username: null, host: '255.255.255.255', port: 1 }],
    ['_svc@a', { username: '_svc', host: 'a', port: null }],
    ['pi-07.local.', { username: null, host: 'pi-07.local.', port: null }],
  ])('accepts %s', (text, expected) => {
    expect(ok(text)).toEqual(expected);
  });

  it.each([
    ['10.0.0.300', 'host', '10.0.0.300 is not an IPv4 address: 300 is more than 255'],
    ['pi@10.0.0.300:22', 'host', '300 is more than 255'],
    ['10.0.0', 'host', 'four numbers'],
    ['10.0.0.7.1', 'host', 'four numbers'],
    ['10.0.0.07', 'host', '07 has a leading zero'],
    ['010.0.0.7', 'host', '010 has a leading zero'],
    ['10.0.0.7:0', 'port', 'the port 0 is not a number from 1 to 65535'],
    ['10.0.0.7:65536', 'port', '65536'],
    ['10.0.0.7:ssh', 'port', 'ssh'],
    ['10.0.0.7:', 'port', 'empty after the colon'],
    ['Pi@10.0.0.7', 'username', 'Pi is not a Linux user name'],
    ['@10.0.0.7', 'username', 'user name before @ is empty'],
    ['a@b@10.0.0.7', 'username', 'a@b is not a Linux user name'],
    ['pi_07.local', 'host', '"_" is not allowed'],
    ['pi..local', 'host', 'empty part between dots'],
    ['-pi.local', 'host', 'may not start or end with a dash'],
    [`${'a'.repeat(64)}.local`, 'host', 'longer than 63 characters'],
    [Array.from({ length: 5 }, () => 'a'.repeat(63)).join('.'), 'host', 'at most 253'],
    ['[fe80::1', 'host', 'without its ]'],
    ['[fe80::1]x', 'host', 'only :port may follow'],
    ['[10.0.0.7]:22', 'host', 'not an IPv6 address'],
    ['fe80::1::2', 'host', 'not an IPv6 address'],
    ['pi@', 'host', 'the host is empty'],
    ['', 'host', 'the address is empty'],
    ['pi @10.0.0.7', 'host', 'has a space'],
  ])('refuses %s, naming the %s', (text, part, message) => {
    const result = refused(text);
    expect(result.part).toBe(part);
    expect(result.message).toContain(message);
  });

  it('agrees with node:net isIP on IPv4 and IPv6 (the renderer cannot import node:net)', () => {
    const samples = [
      '1.2.3.4', '0.0.0.0', '255.255.255.255', '256.1.1.1', '1.2.3', '01.2.3.4', '1.2.3.4.5', '1..3.4', '',
      '::', '::1', '1::', '1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7::', '::1:2:3:4:5:6:7', '1:2:3:4:5:6:7:8::',
      '::ffff:1.2.3.4', '1:2:3:4:5:6:1.2.3.4', '1:2:3:4:5:6:7:1.2.3.4', '::ffff:1.2.3.256', '1.2.3.4::', 'fe80::1%eth0',
      'fe80::1%', '12345::', 'g::1', ':1:2:3:4:5:6:7', '1:2:3:4:5:6:7:', '1::2::3', 'fe80:0000:0000:0000:0204:61ff:fe9d:f156', '::1.2.3.4',
    ];
    for (const text of samples) {
      expect([isIPv4(text) ? 4 : 0, isIPv6(text) ? 6 : 0].find((v) => v !== 0) ?? 0, text).toBe(isIP(text));
    }
  });

  it('formats an address back, IPv6 in brackets', () => {
    for (const text of ['pi@10.0.0.7:2222', 'pi@[fe80::1]:22', '[::1]', 'pi-07.local']) expect(formatSshAddress(ok(text))).toBe(text);
    expect(hostProblem('10.0.0.300')).toContain('300 is more than 255');
  });

  it('is the rule of the API: devices.add refuses 10.0.0.300 naming the reason', () => {
    const result = SshLinkSpecSchema.safeParse({ kind: 'ssh', host: '10.0.0.300' });
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.message).toContain('300 is more than 255');
    expect(SshLinkSpecSchema.parse({ kind: 'ssh', host: 'fe80::1' }).host).toBe('fe80::1');
    // A device registered by an earlier version under the old, looser rule still lists.
    expect(StoredLinkSpecSchema.parse({ kind: 'ssh', host: '10.0.0.300' })).toMatchObject({ host: '10.0.0.300', port: 22 });
  });

  it('is the rule of the Add device form, whose Host field takes user@host:port too', () => {
    const values = initialFormValues(null);
    const bad = checkDeviceForm({ ...values, host: '10.0.0.300' });
    expect(bad).toEqual({ errors: { host: '10.0.0.300 is not an IPv4 address: 300 is more than 255.' } });
    const whole = checkDeviceForm({ ...values, host: 'fieldkit@10.0.0.7:2222', username: 'pi', port: '22' });
    expect(whole).toEqual({ request: { link: { kind: 'ssh', host: '10.0.0.7', port: 2222, username: 'fieldkit', agentPrefix: '/opt/fieldkit-agent' } } });
    const plain = checkDeviceForm({ ...values, host: 'pi@10.0.0.7' });
    expect(plain).toEqual({ request: { link: { kind: 'ssh', host: '10.0.0.7', port: 22, username: 'pi', agentPrefix: '/opt/fieldkit-agent' } } });
  });
});
