/** The Flash screen's form rules and result lines, run in Node (the screen itself is covered by e2e). */
import { describe, expect, it } from 'vitest';
import type { FlashResult, ImageSummary } from '../../../shared/flash.ts';
import {
  browseStartDir,
  checkIdentity,
  duplicateDeviceIds,
  emptyIdentity,
  flashRequest,
  hostnameFromDeviceId,
  numberedIds,
  numberFromFirst,
  sshKeyError,
  withDeviceId,
} from '../../../renderer/src/flash/flashForm.ts';
import { bytePhaseView, phaseStatus, summarizeFlash, targetFigures, targetOutcome, targetPercent } from '../../../renderer/src/flash/flashJobView.ts';

const key = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG9yZ2FuaWNrZXk9PT09PT09PT09PT09PT09PT09 tech@laptop';

describe('Flash form', () => {
  it('suggests a hostname from the device id until the hostname is typed by hand', () => {
    expect(hostnameFromDeviceId('Pi_07.North')).toBe('pi-07-north');
    expect(hostnameFromDeviceId('--x--')).toBe('x');
    expect(hostnameFromDeviceId('a'.repeat(70)).length).toBe(63);
    const followed = withDeviceId(emptyIdentity, 'pi-07');
    expect(followed.hostname).toBe('pi-07');
    const edited = withDeviceId({ ...followed, hostname: 'gate', hostnameEdited: true }, 'pi-08');
    expect(edited).toMatchObject({ deviceId: 'pi-08', hostname: 'gate' });
  });

  it('numbers the other drives after the first, keeping zero padding and the site', () => {
    expect(numberedIds('pi-07', 3)).toEqual(['pi-08', 'pi-09', 'pi-10']);
    expect(numberedIds('node009', 1)).toEqual(['node010']);
    expect(numberedIds('gate', 2)).toEqual(['gate-2', 'gate-3']);
    const drafts = numberFromFirst(['/dev/a', '/dev/b', '/dev/c'], { '/dev/a': { deviceId: 'pi-07', hostname: 'pi-07', site: 'depot', hostnameEdited: false } });
    expect(drafts['/dev/b']).toEqual({ deviceId: 'pi-08', hostname: 'pi-08', site: 'depot', hostnameEdited: false });
    expect(drafts['/dev/c']?.deviceId).toBe('pi-09');
    expect(numberFromFirst(['/dev/a', '/dev/b'], {})).toEqual({});
  });

  it('writes no identity for untouched fields, and names the field at fault otherwise', () => {
    expect(checkIdentity(undefined, [])).toEqual({ identity: undefined, errors: {} });
    expect(checkIdentity(emptyIdentity, [key])).toEqual({ identity: undefined, errors: {} });
    expect(checkIdentity({ deviceId: 'pi-07', hostname: 'pi-07', site: '', hostnameEdited: false }, [key]).identity).toEqual({
      deviceId: 'pi-07',
      hostname: 'pi-07',
      site: '',
      sshPublicKeys: [key],
    });
    expect(checkIdentity({ deviceId: 'pi 07', hostname: 'pi.07', site: '', hostnameEdited: true }, []).errors).toEqual({
      deviceId: 'a device id is letters, digits, dot, dash, underscore',
      hostname: 'a hostname is letters, digits and inner dashes (no dots, no spaces)',
    });
    expect(checkIdentity({ deviceId: '', hostname: '', site: 'depot', hostnameEdited: false }, []).errors.deviceId).toBe('give the device an id');
    expect(sshKeyError(`${key}\n\n`)).toBeNull();
    expect(sshKeyError('-----BEGIN OPENSSH PRIVATE KEY-----')).toMatch(/Not an OpenSSH public key line/);
    expect(duplicateDeviceIds(['/dev/a', '/dev/b', '/dev/c'], { '/dev/a': { ...emptyIdentity, deviceId: 'x' }, '/dev/c': { ...emptyIdentity, deviceId: ' x' } })).toEqual(new Set(['x']));
  });

  it('builds flash.start with the sizes shown and accepts unsigned only for a plain image', () => {
    const image = { path: '/i/a.img.xz', kind: 'plain' } as ImageSummary;
    const request = flashRequest(
      image,
      [
        { device: '/dev/sdb', description: 'Card', sizeBytes: 31_914_983_424 },
        { device: '/dev/sdc', description: 'Card', sizeBytes: 15_931_539_456 },
      ],
      { '/dev/sdb': { deviceId: 'pi-07', hostname: 'pi-07', site: 'depot', hostnameEdited: false } },
      [],
      { eject: false },
    );
    expect(request).toEqual({
      imagePath: '/i/a.img.xz',
      acceptUnsigned: true,
      eject: false,
      targets: [
        { device: '/dev/sdb', expectSizeBytes: 31_914_983_424, identity: { deviceId: 'pi-07', hostname: 'pi-07', site: 'depot', sshPublicKeys: [] } },
        { device: '/dev/sdc', expectSizeBytes: 15_931_539_456 },
      ],
    });
    expect(flashRequest({ ...image, kind: 'signed' }, [], {}, [], { eject: true }).acceptUnsigned).toBe(false);
  });

  it('opens the picker in the folder typed, or the folder of the image typed', () => {
    expect(browseStartDir('')).toBeUndefined();
    expect(browseStartDir('images')).toBeUndefined();
    expect(browseStartDir('/home/t/Downloads/')).toBe('/home/t/Downloads');
    expect(browseStartDir('/home/t/node.fkimg')).toBe('/home/t');
    expect(browseStartDir('/a.img.zst')).toBe('/');
    expect(browseStartDir('/')).toBe('/');
    // ~ is the service's to expand; a file that is not an image goes as typed and the service opens its folder.
    expect(browseStartDir('~/Downloads')).toBe('~/Downloads');
    expect(browseStartDir('~')).toBe('~');
    expect(browseStartDir('/home/t/README.md')).toBe('/home/t/README.md');
  });
});

describe('Flash results', () => {
  const target = { device: '/dev/sdb', description: 'Card', bytesWritten: 84e6, bytesVerified: 84e6, seconds: 3.2, ejected: true };
  it('says per drive what was verified, or why it must not be used', () => {
    expect(targetOutcome({ ...target, status: 'success', label: null, error: null, firstBootFiles: [{ name: 'fieldkit-identity.json', bytes: 80, sha256: 'x' }] })).toBe(
      '84.0 MB written and read back in 3.2 s; first-boot files fieldkit-identity.json; ejected.',
    );
    expect(targetOutcome({ ...target, status: 'success', label: null, error: null, firstBootFiles: [], ejected: false, freeSpace: { bytes: 20e6, discarded: false, note: 'not discarded: /dev/sdb does not support discard' } })).toBe(
      '84.0 MB written and read back in 3.2 s; 20.0 MB of free space left unwritten (not discarded: /dev/sdb does not support discard); no first-boot files.',
    );
    const error = { code: 'IO_ERROR' as const, message: '/dev/sdb went away while writing.', hint: 'Reinsert it and flash again.' };
    expect(targetOutcome({ ...target, status: 'incomplete', label: 'incomplete — do not use', error, firstBootFiles: [] })).toBe('/dev/sdb went away while writing.');
  });

  it('shows each drive\'s bytes, rate and time left, and its percent', () => {
    const progress = { device: '/dev/sdb', description: '', state: 'writing' as const, bytesDone: 42e6, bytesTotal: 84e6, rateBytesPerSec: 21e6, etaSeconds: 2 };
    expect(targetFigures(progress)).toBe('42.0 MB of 84.0 MB · 21.0 MB/s · 0:02 left');
    expect(targetPercent(progress)).toBe(50);
    expect(targetPercent({ ...progress, bytesTotal: null })).toBeNull();
  });

  it('sums a flash up for the jobs panel', () => {
    const result: FlashResult = {
      image: { path: '/i/a.fkimg', kind: 'signed', product: 'demo-os', version: '1.2.0' },
      warnings: [],
      targets: [
        { ...target, status: 'success', label: null, error: null, firstBootFiles: [] },
        { ...target, device: '/dev/sdc', status: 'incomplete', label: 'incomplete — do not use', error: null, firstBootFiles: [] },
      ],
    };
    expect(summarizeFlash(result)).toBe('Flashed demo-os 1.2.0 to 1 of 2 drives; /dev/sdc incomplete — do not use.');
    expect(summarizeFlash({ ...result, targets: result.targets.slice(0, 1) })).toBe('Flashed demo-os 1.2.0 to 1 of 1 drive, each verified.');
    expect(summarizeFlash({ nope: true })).toBeNull();
  });
});

describe('Flash phases per drive', () => {
  const target = { device: '/dev/sdb', description: 'Card', bytesDone: 50e6, bytesTotal: 200e6, rateBytesPerSec: 25e6, etaSeconds: 6 };
  it('writing, then verifying on a bar of its own, then first-boot files and eject', () => {
    expect(bytePhaseView({ ...target, state: 'writing' }, 'write')).toEqual({ status: 'active', percent: 25, figures: '50.0 MB of 200.0 MB · 25.0 MB/s · 0:06 left' });
    expect(bytePhaseView({ ...target, state: 'writing' }, 'verify')).toEqual({ status: 'waiting', percent: 0, figures: 'after writing' });
    expect(bytePhaseView({ ...target, state: 'verifying' }, 'write')).toEqual({ status: 'done', percent: 100, figures: 'written' });
    expect(bytePhaseView({ ...target, state: 'verifying' }, 'verify')).toMatchObject({ status: 'active', percent: 25 });
    expect(bytePhaseView({ ...target, state: 'customising' }, 'verify')).toMatchObject({ status: 'done', percent: 100, figures: 'verified' });
    expect(['queued', 'writing', 'verifying', 'customising', 'ejecting', 'success'].map((state) => phaseStatus(state as 'queued', 'firstBoot'))).toEqual(['waiting', 'waiting', 'waiting', 'active', 'done', 'done']);
    expect(phaseStatus('ejecting', 'eject')).toBe('active');
    // A drive that failed is never shown as having passed a phase.
    expect(phaseStatus('incomplete', 'write')).toBe('waiting');
  });
});
