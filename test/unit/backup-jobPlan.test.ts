/**
 * What a backup job asks of each device: the backup-stream command derived from the link
 * (as the RPC command is), only config and secrets over a serial console (with a time
 * estimate from the baud rate), the policy's extra paths quoted.
 */
import { describe, expect, it } from 'vitest';
import { backupProbeCommand, backupStreamCommand, serialSecondsFor, skipReason } from '../../electron/backup/backupJobPlan.ts';
import type { Device } from '../../shared/devices.ts';

function device(link: Device['link']): Device {
  return { id: 'dev_abcdef12', name: 'pi-7', site: 'depot', link, hostKeyFingerprint: null, agentDeviceId: 'pi-7', journalId: null, agentVersion: null, modelVersion: null, clockOffsetMs: null, lastSeenMs: null, lastError: null, addedMs: 0 };
}

const ssh = device({ kind: 'ssh', host: '10.0.0.7', port: 22, username: 'pi', agentPrefix: '/opt/fieldkit-agent' });
const serial = device({ kind: 'serial', path: '/dev/ttyUSB0', baudRate: 115200, username: 'pi', agentPrefix: '/opt/fieldkit-agent' });

describe('the backup job plan', () => {
  it('runs the installed agent as root without a prompt, with the extra paths quoted', () => {
    const command = backupStreamCommand(ssh, 'data', ['/srv/app data', "/srv/o'clock"]);
    expect(command).toContain("exec sudo -n '/opt/fieldkit-agent/current/bin/fieldkit-agent' backup-stream --class data --path '/srv/app data' --path '/srv/o'\\''clock'");
    expect(command).toContain('else exec sudo -n fieldkit-agent backup-stream --class data');
  });

  it('probes every class of a device in one command, each extra path tagged with its class', () => {
    const command = backupProbeCommand(ssh, ['config', 'data'], { data: ['/srv/app data'], state: ['/ignored'] });
    expect(command).toContain("exec sudo -n '/opt/fieldkit-agent/current/bin/fieldkit-agent' backup-probe --classes config,data --path 'data=/srv/app data' --json");
    expect(command).not.toContain('/ignored');
  });

  it("replaces a local device's rpc with backup-stream, and refuses a command it cannot derive", () => {
    expect(backupStreamCommand(device({ kind: 'local', agentCommand: '/opt/a/fieldkit-agent --config /c.json rpc' }), 'state')).toBe('/opt/a/fieldkit-agent --config /c.json backup-stream --class state');
    expect(() => backupStreamCommand(device({ kind: 'local', agentCommand: 'my-agent serve' }), 'state')).toThrow(/does not end in `rpc`/);
  });

  it('takes only config and secrets over a serial console, saying to use the network for the rest', () => {
    expect(skipReason(serial, 'config')).toBeNull();
    expect(skipReason(serial, 'secrets')).toBeNull();
    expect(skipReason(serial, 'state')).toMatch(/too big for a serial console — use the network/);
    expect(skipReason(serial, 'data')).toMatch(/use the network/);
    expect(skipReason(ssh, 'state')).toBeNull();
  });

  it('estimates a serial transfer from the baud rate (10 bits a byte, with a margin), unknown without a previous size', () => {
    expect(serialSecondsFor(115_200, 115200)).toBe(13);
    expect(serialSecondsFor(1_000_000, 9600)).toBe(Math.ceil((1_000_000 * 10 * 1.25) / 9600));
    expect(serialSecondsFor(null, 115200)).toBeNull();
  });
});
