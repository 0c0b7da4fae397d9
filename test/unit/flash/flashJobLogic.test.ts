/**
 * The pure parts of a flash job: how the helper is started on each OS (pkexec, the macOS
 * administrator prompt, UAC — none of which can run here), mountinfo parsing, the failure
 * summary, and the CLI's identity file rules.
 */
import { describe, expect, it } from 'vitest';
import { parseIdentityFile } from '../../../electron/flash/cli/flashCommands.ts';
import { parseMountInfo } from '../../../electron/flash/driveMounts.ts';
import { summarizeFlashFailures } from '../../../electron/flash/flashJob.ts';
import { elevationFor, helperCommand } from '../../../electron/flash/elevation/elevation.ts';
import { isFieldkitError } from '../../../shared/errors.ts';
import type { FlashTargetResult } from '../../../shared/flash.ts';

describe('helper elevation', () => {
  it('starts directly as root, else pkexec on Linux, osascript on macOS, UAC on Windows', () => {
    expect(elevationFor('linux', 0)).toBe('none');
    expect(elevationFor('linux', 1000)).toBe('pkexec');
    expect(elevationFor('darwin', 501)).toBe('osascript');
    expect(elevationFor('win32', null)).toBe('uac');
  });

  it('builds each command line with the channel folder as one argument', () => {
    expect(helperCommand('none', '/usr/bin/node', '/app/flashHelper.js', '/tmp/fk x')).toEqual({ command: '/usr/bin/node', args: ['/app/flashHelper.js', '--channel', '/tmp/fk x'] });
    expect(helperCommand('pkexec', '/usr/bin/node', '/app/flashHelper.js', '/tmp/fk')).toEqual({ command: 'pkexec', args: ['env', '/usr/bin/node', '/app/flashHelper.js', '--channel', '/tmp/fk'] });
    const mac = helperCommand('osascript', '/Applications/fieldkit.app/node', "/it's/flashHelper.js", '/tmp/fk');
    expect(mac.command).toBe('osascript');
    expect(mac.args[1]).toBe(`do shell script "'/usr/bin/env' '/Applications/fieldkit.app/node' '/it'\\\\''s/flashHelper.js' '--channel' '/tmp/fk'" with administrator privileges`);
    const win = helperCommand('uac', 'C:\\fieldkit\\fieldkit.exe', 'C:\\fieldkit\\flashHelper.js', 'C:\\Temp\\fk');
    expect(win.command).toBe('powershell.exe');
    expect(win.args.at(-1)).toContain('-Verb RunAs');
    expect(win.args.at(-1)).toContain(`'"C:\\Temp\\fk"'`);
  });
});

describe('parseMountInfo', () => {
  it('reads the device number and the mount point, with escaped spaces', () => {
    const text = '36 25 253:1 / /media/tech/BOOT\\040A rw,relatime shared:1 - vfat /dev/zram1 rw\n37 25 8:2 / / rw - ext4 /dev/sda2 rw\n';
    expect(parseMountInfo(text)).toEqual([
      { majorMinor: '253:1', mountPoint: '/media/tech/BOOT A' },
      { majorMinor: '8:2', mountPoint: '/' },
    ]);
  });
});

describe('summarizeFlashFailures', () => {
  const result = (device: string, status: FlashTargetResult['status'], message: string | null): FlashTargetResult => ({
    device,
    description: device,
    status,
    label: status === 'incomplete' ? 'incomplete — do not use' : null,
    error: message === null ? null : { code: 'IO_ERROR', message, hint: 'h' },
    bytesWritten: 0,
    bytesVerified: 0,
    seconds: 0,
    firstBootFiles: [],
    ejected: false,
  });

  it('names each failed drive and how it ended; null when all succeeded', () => {
    expect(summarizeFlashFailures([result('/dev/sdb', 'success', null)])).toBeNull();
    expect(summarizeFlashFailures([result('/dev/sdb', 'success', null), result('/dev/sdc', 'incomplete', 'sdc was removed.')])).toBe('1 of 2 drives failed: /dev/sdc incomplete — do not use: sdc was removed.');
  });
});

describe('parseIdentityFile', () => {
  const one = { deviceId: 'pi-1', hostname: 'pi-1' };
  const refusal = (fn: () => unknown): string => {
    try {
      fn();
    } catch (error) {
      if (isFieldkitError(error)) return error.appError.message;
      throw error;
    }
    throw new Error('expected a refusal');
  };

  it('takes one object for one drive, or an array with one per drive', () => {
    expect(parseIdentityFile(JSON.stringify(one), 1, 'id.json')).toEqual([one]);
    expect(parseIdentityFile(JSON.stringify([one, { deviceId: 'pi-2', hostname: 'pi-2' }]), 2, 'id.json')).toHaveLength(2);
  });

  it('refuses one object for two drives, a count that differs, and a bad field', () => {
    expect(refusal(() => parseIdentityFile(JSON.stringify(one), 2, 'id.json'))).toContain('two Pis must not share a device id');
    expect(refusal(() => parseIdentityFile(JSON.stringify([one]), 2, 'id.json'))).toContain('1 identities for 2 drives');
    expect(refusal(() => parseIdentityFile(JSON.stringify({ deviceId: 'pi 1', hostname: 'pi-1' }), 1, 'id.json'))).toContain('deviceId');
    expect(refusal(() => parseIdentityFile('{', 1, 'id.json'))).toContain('not JSON');
  });
});
