import { describe, expect, it } from 'vitest';
import { assessDrives, owningDevice } from '../../electron/drives/assessDrive.ts';
import { parseSwaps } from '../../electron/drives/listDrives.ts';
import { rawDrive } from '../support/rawDrive.ts';
import { driveLabel, driveModel } from '../../shared/drives.ts';

const context = { dataDir: '/home/tech/.config/fieldkit', sourcePaths: [], swapDevices: [] };

describe('assessDrives', () => {
  it('names a drive without a model once: "/dev/zram0", never "/dev/zram0 (/dev/zram0)"', () => {
    const drives = assessDrives(
      [rawDrive({ device: '/dev/zram0', description: '' }), rawDrive({ device: '/dev/sdc', description: '  ' }), rawDrive({ device: '/dev/sdb', description: 'SanDisk Ultra' })],
      context,
    );
    const [bare, blank, card] = ['/dev/zram0', '/dev/sdc', '/dev/sdb'].map((device) => drives.find((d) => d.device === device));
    if (bare === undefined || blank === undefined || card === undefined) throw new Error('drives missing');
    expect([driveModel(bare), driveLabel(bare)]).toEqual([null, '/dev/zram0']);
    expect([driveModel(blank), driveLabel(blank)]).toEqual([null, '/dev/sdc']);
    expect([driveModel(card), driveLabel(card)]).toEqual(['SanDisk Ultra', '/dev/sdb (SanDisk Ultra)']);
  });

  it('offers a plain removable card', () => {
    const [sd] = assessDrives([rawDrive({ device: '/dev/sdb' })], context);
    expect(sd).toMatchObject({ flashable: true, refusals: [], warnings: [] });
  });

  it('refuses the system drive and the drive holding the app data', () => {
    const drives = assessDrives(
      [
        rawDrive({ device: '/dev/nvme0n1', isSystem: true, isRemovable: false, mountpoints: [{ path: '/', label: null }] }),
        rawDrive({ device: '/dev/sdb', mountpoints: [{ path: '/home', label: 'home' }] }),
      ],
      context,
    );
    const byDevice = new Map(drives.map((d) => [d.device, d]));
    expect(byDevice.get('/dev/nvme0n1')?.refusals.map((r) => r.code)).toEqual(['SYSTEM_DRIVE']);
    // /home is the longest mountpoint containing the data dir: that drive holds it, not /.
    expect(byDevice.get('/dev/sdb')?.refusals.map((r) => r.code)).toEqual(['HOLDS_APP_DATA']);
    expect(byDevice.get('/dev/sdb')?.flashable).toBe(false);
  });

  it('refuses a drive holding the source image', () => {
    const [d] = assessDrives([rawDrive({ device: '/dev/sdc', mountpoints: [{ path: '/media/usb', label: null }] })], {
      ...context,
      sourcePaths: ['/media/usb/images/pi.fkimg'],
    });
    expect(d?.refusals.map((r) => r.code)).toEqual(['HOLDS_SOURCE']);
  });

  it('refuses write-protected cards with what to do', () => {
    const [d] = assessDrives([rawDrive({ device: '/dev/sdb', isReadOnly: true })], context);
    expect(d?.refusals[0]).toMatchObject({ code: 'READ_ONLY' });
    expect(d?.refusals[0]?.message).toMatch(/lock switch/);
  });

  it('refuses drives smaller than the image, saying both sizes', () => {
    const [d] = assessDrives([rawDrive({ device: '/dev/sdb', size: 8e9 })], { ...context, imageSizeBytes: 15.9e9 });
    expect(d?.refusals[0]?.code).toBe('TOO_SMALL');
    expect(d?.refusals[0]?.message).toContain('8.0 GB');
    expect(d?.refusals[0]?.message).toContain('15.9 GB');
  });

  it('refuses a device in use as swap (zram swap looks removable)', () => {
    const [d] = assessDrives([rawDrive({ device: '/dev/zram0', isVirtual: true })], { ...context, swapDevices: ['/dev/zram0'] });
    expect(d?.flashable).toBe(false);
    expect(d?.refusals[0]?.message).toMatch(/swap/);
  });

  it('refuses a drive without a size', () => {
    const [d] = assessDrives([rawDrive({ device: '/dev/sdd', size: null })], context);
    expect(d?.refusals.map((r) => r.code)).toEqual(['UNKNOWN_SIZE']);
  });

  it('warns about large, fixed and mounted drives without refusing them', () => {
    const [d] = assessDrives(
      [rawDrive({ device: '/dev/sde', size: 2e12, isRemovable: false, mountpoints: [{ path: '/mnt/x', label: null }] })],
      context,
    );
    expect(d?.flashable).toBe(true);
    expect(d?.warnings.map((w) => w.code)).toEqual(['LARGE', 'FIXED', 'MOUNTED']);
  });

  it('lists removable drives first', () => {
    const drives = assessDrives(
      [rawDrive({ device: '/dev/sda', isRemovable: false, isSystem: true }), rawDrive({ device: '/dev/sdb' })],
      context,
    );
    expect(drives.map((d) => d.device)).toEqual(['/dev/sdb', '/dev/sda']);
  });
});

describe('owningDevice', () => {
  it('does not confuse /media/usb2 with /media/usb', () => {
    const drives = [rawDrive({ device: '/dev/sdb', mountpoints: [{ path: '/media/usb', label: null }] })];
    expect(owningDevice(drives, '/media/usb2/file')).toBeNull();
    expect(owningDevice(drives, '/media/usb/file')).toBe('/dev/sdb');
  });
});

describe('parseSwaps', () => {
  it('reads partitions from /proc/swaps and skips swap files', () => {
    const text = 'Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n/dev/zram0                              partition\t8388604\t\t0\t\t100\n/swapfile file 1048572 0 -2\n';
    expect(parseSwaps(text)).toEqual(['/dev/zram0']);
  });
});
