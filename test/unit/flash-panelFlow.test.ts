/** The Flash panel's steps as a state machine (renderer/src/flash/flashFlow.ts), every transition, run in Node. */
import { describe, expect, it } from 'vitest';
import type { AppError } from '../../shared/errors.ts';
import type { ImageSummary } from '../../shared/flash.ts';
import { flashFlow, initialFlashFlow, pathToReread, type FlashEvent, type FlashFlow } from '../../renderer/src/flash/flashFlow.ts';

const image = { path: '/img/node-os-1.4.fkimg', kind: 'signed', problems: [], rawBytes: 4e9 } as unknown as ImageSummary;
const other: ImageSummary = { ...image, path: '/img/node-os-1.5.fkimg' };
const altered = { ...image, problems: [{ code: 'VERIFICATION_FAILED', message: 'altered', hint: 'get it again' }] } as ImageSummary;
const refused: AppError = { code: 'NOT_FOUND', message: 'No such file', hint: 'Check the path.' };
const busy: AppError = { code: 'CONFLICT', message: '/dev/sdb is mounted', hint: 'Unmount it.' };
const picked = [{ device: '/dev/sdb', description: 'Card', sizeBytes: 32e9 }];
const draft = { deviceId: 'pi-07', hostname: 'pi-07', site: 'depot', hostnameEdited: false };

function run(...events: FlashEvent[]): FlashFlow {
  return events.reduce(flashFlow, initialFlashFlow);
}
const read = (path = image.path, summary = image): FlashEvent[] => [
  { type: 'inspectRequested', path },
  { type: 'inspected', path, image: summary },
];
const toConfirm: FlashEvent[] = [...read(), { type: 'picksChanged', devices: ['/dev/sdb'] }, { type: 'flashPressed', formHasProblems: false }];
const toFlashing: FlashEvent[] = [...toConfirm, { type: 'startRequested' }, { type: 'started', jobId: 'job_abcdef', picked }];

describe('Flash panel flow', () => {
  it('starts at the image step with nothing read, eject on', () => {
    expect(initialFlashFlow).toMatchObject({ phase: { name: 'image' }, image: null, inspecting: null, browsing: false, eject: true, picks: [] });
  });

  it('reads an image: the path trimmed, the browser closed, then drives for a flashable image', () => {
    const reading = run({ type: 'browseOpened' }, { type: 'inspectRequested', path: `  ${image.path} ` });
    expect(reading).toMatchObject({ pathInput: image.path, browsing: false, inspecting: image.path, phase: { name: 'image' } });
    expect(flashFlow(reading, { type: 'inspected', path: image.path, image })).toMatchObject({ inspecting: null, image, phase: { name: 'drives' } });
  });

  it('stays at the image step for an image with problems, and for a read that failed (with its error)', () => {
    expect(run(...read(image.path, altered)).phase).toEqual({ name: 'image' });
    const failed = run(...read(), { type: 'inspectRequested', path: '/nope' }, { type: 'inspectFailed', path: '/nope', error: refused });
    expect(failed).toMatchObject({ phase: { name: 'image' }, image: null, inspectError: refused, inspecting: null });
    // A new read clears the old error.
    expect(flashFlow(failed, { type: 'inspectRequested', path: image.path }).inspectError).toBeNull();
  });

  it('keeps the last image and its drive step while another is read, and ignores an answer to an older read', () => {
    const rereading = run(...read(), { type: 'inspectRequested', path: other.path });
    expect(rereading).toMatchObject({ image, phase: { name: 'drives' }, inspecting: other.path });
    expect(flashFlow(rereading, { type: 'inspected', path: image.path, image })).toBe(rereading);
    expect(flashFlow(rereading, { type: 'inspectFailed', path: '/older', error: refused })).toBe(rereading);
    expect(flashFlow(rereading, { type: 'inspected', path: other.path, image: other }).image).toBe(other);
  });

  it('an empty path only tidies the field', () => {
    expect(run({ type: 'pathTyped', text: '   ' }, { type: 'inspectRequested', path: '   ' })).toMatchObject({ pathInput: '', inspecting: null, phase: { name: 'image' } });
  });

  it('opens and closes the file browser at the image and drives steps only', () => {
    expect(run({ type: 'browseOpened' }).browsing).toBe(true);
    expect(run({ type: 'browseOpened' }, { type: 'browseClosed' }).browsing).toBe(false);
    expect(run(...toConfirm, { type: 'browseOpened' }).browsing).toBe(false);
    expect(run(...toFlashing, { type: 'browseOpened' }).browsing).toBe(false);
  });

  it('edits the form at the drives step only: picks, identities, numbering, SSH key, eject', () => {
    const edited = run(
      ...read(),
      { type: 'picksChanged', devices: ['/dev/sdb', '/dev/sdc'] },
      { type: 'draftChanged', device: '/dev/sdb', draft },
      { type: 'numberedFromFirst', order: ['/dev/sdb', '/dev/sdc'] },
      { type: 'sshKeysTyped', text: 'ssh-ed25519 AAAA' },
      { type: 'ejectSet', eject: false },
    );
    expect(edited).toMatchObject({ picks: ['/dev/sdb', '/dev/sdc'], sshKeys: 'ssh-ed25519 AAAA', eject: false });
    expect(edited.drafts['/dev/sdc']).toMatchObject({ deviceId: 'pi-08', site: 'depot' });
    const atImage = run({ type: 'picksChanged', devices: ['/dev/sdb'] }, { type: 'ejectSet', eject: false });
    expect(atImage).toEqual(initialFlashFlow);
    const underConfirm = run(...toConfirm);
    expect(flashFlow(underConfirm, { type: 'picksChanged', devices: [] })).toBe(underConfirm);
  });

  it('Flash… shows the errors and stays while the form has problems, else opens the confirm for the image read', () => {
    const stuck = run(...read(), { type: 'flashPressed', formHasProblems: true });
    expect(stuck).toMatchObject({ phase: { name: 'drives' }, showErrors: true });
    expect(run(...toConfirm).phase).toEqual({ name: 'confirm', image, starting: false, error: null });
    expect(run(...read(image.path, altered), { type: 'flashPressed', formHasProblems: false }).phase).toEqual({ name: 'image' });
  });

  it('Cancel in the confirm goes back to the drives with the form kept; not while flash.start is asked', () => {
    const back = run(...toConfirm, { type: 'confirmClosed' });
    expect(back).toMatchObject({ phase: { name: 'drives' }, picks: ['/dev/sdb'] });
    const asking = run(...toConfirm, { type: 'startRequested' });
    expect(asking.phase).toMatchObject({ name: 'confirm', starting: true });
    expect(flashFlow(asking, { type: 'confirmClosed' })).toBe(asking);
  });

  it('asks flash.start once; a refusal shows in the confirm, and trying again clears it', () => {
    const asking = run(...toConfirm, { type: 'startRequested' });
    expect(flashFlow(asking, { type: 'startRequested' })).toBe(asking);
    const failed = flashFlow(asking, { type: 'startFailed', error: busy });
    expect(failed.phase).toEqual({ name: 'confirm', image, starting: false, error: busy });
    expect(flashFlow(failed, { type: 'startRequested' }).phase).toEqual({ name: 'confirm', image, starting: true, error: null });
    expect(flashFlow(failed, { type: 'confirmClosed' }).phase).toEqual({ name: 'drives' });
  });

  it('shows the flash once started, with the drives picked then', () => {
    expect(run(...toFlashing).phase).toEqual({ name: 'flashing', jobId: 'job_abcdef', picked });
  });

  it('a read answered under the confirm or during the flash leaves the step where it is', () => {
    const racing: FlashEvent[] = [...read(), { type: 'inspectRequested', path: other.path }, { type: 'picksChanged', devices: ['/dev/sdb'] }, { type: 'flashPressed', formHasProblems: false }];
    const confirmed = run(...racing, { type: 'inspected', path: other.path, image: altered });
    expect(confirmed.phase).toEqual({ name: 'confirm', image, starting: false, error: null });
    expect(flashFlow(confirmed, { type: 'confirmClosed' }).phase).toEqual({ name: 'image' });
    expect(run(...racing, { type: 'startRequested' }, { type: 'started', jobId: 'job_abcdef', picked }, { type: 'inspectFailed', path: other.path, error: refused }).phase.name).toBe('flashing');
  });

  it('does not read another image while a flash is shown', () => {
    const flashing = run(...toFlashing);
    expect(flashFlow(flashing, { type: 'inspectRequested', path: other.path })).toBe(flashing);
    expect(flashFlow(flashing, { type: 'pathTyped', text: 'x' }).pathInput).toBe('x');
  });

  it('Flash more drives: back to the drives with nothing picked, the SSH key and eject kept, and the image read again', () => {
    const again = run(...toFlashing.slice(0, 2), { type: 'sshKeysTyped', text: 'k' }, { type: 'ejectSet', eject: false }, ...toFlashing.slice(2), { type: 'draftChanged', device: '/dev/sdb', draft }, { type: 'flashAgain' });
    expect(again).toMatchObject({ phase: { name: 'drives' }, picks: [], drafts: {}, showErrors: false, sshKeys: 'k', eject: false, image });
    expect(flashFlow(again, { type: 'inspectRequested', path: image.path }).inspecting).toBe(image.path);
  });

  it('Choose another image: back to the image step with nothing read', () => {
    expect(run(...toFlashing, { type: 'newImage' })).toMatchObject({ phase: { name: 'image' }, image: null, pathInput: '', picks: [], drafts: {}, inspectError: null });
  });

  it('ignores the events that do not belong to the current step', () => {
    const atDrives = run(...read());
    for (const event of [{ type: 'confirmClosed' }, { type: 'startRequested' }, { type: 'startFailed', error: busy }, { type: 'started', jobId: 'job_abcdef', picked }, { type: 'flashAgain' }, { type: 'newImage' }] satisfies FlashEvent[]) {
      expect(flashFlow(atDrives, event), event.type).toBe(atDrives);
    }
    const flashing = run(...toFlashing);
    expect(flashFlow(flashing, { type: 'flashPressed', formHasProblems: false })).toBe(flashing);
    expect(flashFlow(flashing, { type: 'started', jobId: 'job_zzzzzz', picked: [] })).toBe(flashing);
  });
});

describe('Flash panel back from another screen (remembered flow)', () => {
  it('reads the shown image again, or a read whose answer came while away; nothing else', () => {
    expect(pathToReread(initialFlashFlow)).toBeNull();
    expect(pathToReread(run(...read()))).toBe(image.path);
    expect(pathToReread(run({ type: 'inspectRequested', path: other.path }))).toBe(other.path);
    // Typed another path without reading it: what is typed stays, nothing is read for it.
    expect(pathToReread(run(...read(), { type: 'pathTyped', text: '/img/elsewhere.fkimg' }))).toBeNull();
    // Under the confirm dialog or a shown flash the image step is closed.
    const confirm = run(...read(), { type: 'picksChanged', devices: ['/dev/sdb'] }, { type: 'flashPressed', formHasProblems: false });
    expect(pathToReread(confirm)).toBeNull();
    expect(pathToReread(flashFlow(confirm, { type: 'started', jobId: 'job_abcdef', picked }))).toBeNull();
  });
});
