/**
 * The Flash panel's flow as a state machine: which step the technician is at, and what
 * each event (a click, a key, an answer from the service) does there. Pure: the panel
 * dispatches events and renders from the state; requests to the service are its own.
 *
 *   image ──(a flashable image read)──▶ drives ──(Flash N drives…, form valid)──▶ confirm
 *     ▲                                  │  ▲                                        │
 *     └──(an image with problems, or ────┘  └───────────(Cancel / Escape)────────────┤
 *         reading failed)                                                           │
 *                                        flashing ◀──(flash.start answered: job id)─┘
 *   flashing ──(Flash more drives)──▶ drives (image read again) · ──(Choose another image)──▶ image
 *
 * Reading an image (`inspecting`) and the file browser (`browsing`) run alongside the image
 * and drives steps; the last image stays shown while another is read.
 */
import type { AppError } from '../../../shared/errors.ts';
import type { ImageSummary } from '../../../shared/flash.ts';
import { numberFromFirst, type IdentityDraft, type PickedDrive } from './flashForm.ts';

export type FlashPhase =
  /** No flashable image yet: nothing read, reading failed, or the image has problems. */
  | { name: 'image' }
  /** A flashable image: pick drives, give identities, choose eject. */
  | { name: 'drives' }
  /**
   * The confirm dialog for `image`, the one read when Flash… was pressed: what is confirmed is
   * what is flashed. `starting` while flash.start is asked; `error` when it refused.
   */
  | { name: 'confirm'; image: ImageSummary; starting: boolean; error: AppError | null }
  /** The flash job runs or has ended: per-drive progress, then results. */
  | { name: 'flashing'; jobId: string; picked: readonly PickedDrive[] };

export type FlashFlow = {
  phase: FlashPhase;
  /** The image path field, as typed. */
  pathInput: string;
  browsing: boolean;
  /** The path flash.inspect is reading now, or null. */
  inspecting: string | null;
  image: ImageSummary | null;
  inspectError: AppError | null;
  /** Ticked drives (device paths); a drive that went away drops out where they are read. */
  picks: readonly string[];
  drafts: Readonly<Record<string, IdentityDraft>>;
  sshKeys: string;
  eject: boolean;
  /** Field errors show only once the technician tried to go on. */
  showErrors: boolean;
};

export type FlashEvent =
  | { type: 'pathTyped'; text: string }
  | { type: 'browseOpened' }
  | { type: 'browseClosed' }
  | { type: 'inspectRequested'; path: string }
  | { type: 'inspected'; path: string; image: ImageSummary }
  | { type: 'inspectFailed'; path: string; error: AppError }
  | { type: 'picksChanged'; devices: readonly string[] }
  | { type: 'draftChanged'; device: string; draft: IdentityDraft }
  | { type: 'numberedFromFirst'; order: readonly string[] }
  | { type: 'sshKeysTyped'; text: string }
  | { type: 'ejectSet'; eject: boolean }
  | { type: 'flashPressed'; formHasProblems: boolean }
  | { type: 'confirmClosed' }
  | { type: 'startRequested' }
  | { type: 'startFailed'; error: AppError }
  | { type: 'started'; jobId: string; picked: readonly PickedDrive[] }
  | { type: 'flashAgain' }
  | { type: 'newImage' };

export const initialFlashFlow: FlashFlow = {
  phase: { name: 'image' },
  pathInput: '',
  browsing: false,
  inspecting: null,
  image: null,
  inspectError: null,
  picks: [],
  drafts: {},
  sshKeys: '',
  eject: true,
  showErrors: false,
};

/** An image nothing stands against: it was read and has no problems. */
export function isFlashable(image: ImageSummary | null): image is ImageSummary {
  return image !== null && image.problems.length === 0;
}

/** The step the image decides: drives for a flashable image, else back to the image. */
function phaseForImage(image: ImageSummary | null): FlashPhase {
  return isFlashable(image) ? { name: 'drives' } : { name: 'image' };
}

/**
 * Where an answer to a read leads: at the image or drives step the image decides. A read
 * still under way when Flash… was pressed leaves the confirm dialog (it holds its own image)
 * or a shown flash where they are.
 */
function phaseAfterRead(phase: FlashPhase, image: ImageSummary | null): FlashPhase {
  return phase.name === 'image' || phase.name === 'drives' ? phaseForImage(image) : phase;
}

/** Whether the image step takes input: not while a flash is shown, nor under the confirm dialog. */
export function imageStepOpen(flow: FlashFlow): boolean {
  return flow.phase.name === 'image' || flow.phase.name === 'drives';
}

/**
 * What to read again when the screen comes back to this (remembered) flow: a read whose
 * answer came while the screen was away, else the image shown — a key imported or revoked
 * meanwhile, or a changed file, must show. Null when nothing needs reading.
 */
export function pathToReread(flow: FlashFlow): string | null {
  if (!imageStepOpen(flow)) return null;
  if (flow.inspecting !== null) return flow.inspecting;
  if (flow.image !== null && flow.pathInput.trim() === flow.image.path) return flow.image.path;
  return null;
}

/** Every transition of the flow; an event that does not apply in the current step changes nothing. */
export function flashFlow(flow: FlashFlow, event: FlashEvent): FlashFlow {
  switch (event.type) {
    case 'pathTyped':
      return { ...flow, pathInput: event.text };
    case 'browseOpened':
      return imageStepOpen(flow) ? { ...flow, browsing: true } : flow;
    case 'browseClosed':
      return { ...flow, browsing: false };
    case 'inspectRequested':
      return inspectRequested(flow, event.path);
    case 'inspected':
      if (event.path !== flow.inspecting) return flow;
      return { ...flow, inspecting: null, image: event.image, inspectError: null, phase: phaseAfterRead(flow.phase, event.image) };
    case 'inspectFailed':
      if (event.path !== flow.inspecting) return flow;
      return { ...flow, inspecting: null, image: null, inspectError: event.error, phase: phaseAfterRead(flow.phase, null) };
    case 'picksChanged':
    case 'draftChanged':
    case 'numberedFromFirst':
    case 'sshKeysTyped':
    case 'ejectSet':
      return flow.phase.name === 'drives' ? editForm(flow, event) : flow;
    case 'flashPressed':
      if (flow.phase.name !== 'drives' || !isFlashable(flow.image)) return flow;
      return { ...flow, showErrors: true, phase: event.formHasProblems ? flow.phase : { name: 'confirm', image: flow.image, starting: false, error: null } };
    case 'confirmClosed':
      // While flash.start is asked the answer decides: a started job must not be hidden.
      return flow.phase.name === 'confirm' && !flow.phase.starting ? { ...flow, phase: phaseForImage(flow.image) } : flow;
    case 'startRequested':
      return flow.phase.name === 'confirm' && !flow.phase.starting ? { ...flow, phase: { ...flow.phase, starting: true, error: null } } : flow;
    case 'startFailed':
      return flow.phase.name === 'confirm' ? { ...flow, phase: { ...flow.phase, starting: false, error: event.error } } : flow;
    case 'started':
      return flow.phase.name === 'confirm' ? { ...flow, phase: { name: 'flashing', jobId: event.jobId, picked: event.picked } } : flow;
    case 'flashAgain':
      return flow.phase.name === 'flashing' ? { ...clearedForm(flow), phase: phaseForImage(flow.image) } : flow;
    case 'newImage':
      return flow.phase.name === 'flashing' ? { ...clearedForm(flow), image: null, inspectError: null, pathInput: '', phase: { name: 'image' } } : flow;
  }
}

function inspectRequested(flow: FlashFlow, typed: string): FlashFlow {
  if (!imageStepOpen(flow)) return flow;
  const path = typed.trim();
  const next = { ...flow, pathInput: path, browsing: false };
  return path === '' ? next : { ...next, inspecting: path, inspectError: null };
}

type FormEvent = Extract<FlashEvent, { type: 'picksChanged' | 'draftChanged' | 'numberedFromFirst' | 'sshKeysTyped' | 'ejectSet' }>;

function editForm(flow: FlashFlow, event: FormEvent): FlashFlow {
  switch (event.type) {
    case 'picksChanged':
      return { ...flow, picks: event.devices };
    case 'draftChanged':
      return { ...flow, drafts: { ...flow.drafts, [event.device]: event.draft } };
    case 'numberedFromFirst':
      return { ...flow, drafts: numberFromFirst(event.order, flow.drafts) };
    case 'sshKeysTyped':
      return { ...flow, sshKeys: event.text };
    case 'ejectSet':
      return { ...flow, eject: event.eject };
  }
}

/** After a flash: no drive picked, no identity typed; the SSH key and eject choice stay. */
function clearedForm(flow: FlashFlow): FlashFlow {
  return { ...flow, picks: [], drafts: {}, showErrors: false };
}
