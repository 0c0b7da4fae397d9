/**
 * The Flash screen's form, as plain data: which drives are picked, each drive's first-boot
 * identity as typed, and the `flash.start` request they make. Kept free of React so the
 * rules (a hostname from the device id, numbering, what "no identity" means) are tested alone.
 */
import type { RequestOf } from '../../../shared/api.ts';
import type { Drive } from '../../../shared/drives.ts';
import { FlashIdentitySchema, plainImageExtensions, SshPublicKeySchema, type FlashIdentityInput, type ImageSummary } from '../../../shared/flash.ts';

/** One drive's identity fields exactly as typed; all empty means "write no identity". */
export type IdentityDraft = { deviceId: string; hostname: string; site: string; hostnameEdited: boolean };

export const emptyIdentity: IdentityDraft = { deviceId: '', hostname: '', site: '', hostnameEdited: false };

/** A drive the technician picked, with the size shown when it was picked (the flash refuses another size). */
export type PickedDrive = { device: string; description: string; sizeBytes: number };

/** A hostname the device id suggests: lower case, anything but letters and digits becomes a dash. */
export function hostnameFromDeviceId(deviceId: string): string {
  return deviceId
    .trim()
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/-{2,}/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 63)
    .replace(/-+$/, '');
}

/** The draft after the device id changed: the hostname follows it until typed by hand. */
export function withDeviceId(draft: IdentityDraft, deviceId: string): IdentityDraft {
  return { ...draft, deviceId, hostname: draft.hostnameEdited ? draft.hostname : hostnameFromDeviceId(deviceId) };
}

/**
 * The next ids after `first`: "pi-07" → "pi-08", "pi-09" (zero padding kept); an id without a
 * trailing number gets "-2", "-3"…
 */
export function numberedIds(first: string, count: number): string[] {
  const trimmed = first.trim();
  const match = /^(.*?)(\d+)$/.exec(trimmed);
  return Array.from({ length: count }, (_, i) => {
    if (match === null) return `${trimmed}-${i + 2}`;
    const [, stem = '', digits = ''] = match;
    return `${stem}${String(Number(digits) + i + 1).padStart(digits.length, '0')}`;
  });
}

/** Copies the first drive's site to every picked drive and numbers the device ids (and hostnames) after it. */
export function numberFromFirst(order: readonly string[], drafts: Readonly<Record<string, IdentityDraft>>): Record<string, IdentityDraft> {
  const [firstDevice, ...rest] = order;
  const first = firstDevice === undefined ? undefined : drafts[firstDevice];
  if (first === undefined || first.deviceId.trim() === '') return { ...drafts };
  const ids = numberedIds(first.deviceId, rest.length);
  const next: Record<string, IdentityDraft> = { ...drafts };
  rest.forEach((device, i) => {
    const id = ids[i] ?? '';
    next[device] = { deviceId: id, hostname: hostnameFromDeviceId(id), site: first.site, hostnameEdited: false };
  });
  return next;
}

export type IdentityCheck = { identity: FlashIdentityInput | undefined; errors: Partial<Record<'deviceId' | 'hostname' | 'site' | 'sshPublicKeys', string>> };

/**
 * What a drive's draft becomes in the request, and what is wrong with it. No device id and
 * no hostname means no identity; anything typed must then be complete and valid.
 */
export function checkIdentity(draft: IdentityDraft | undefined, sshKeys: readonly string[]): IdentityCheck {
  if (draft === undefined || (draft.deviceId.trim() === '' && draft.hostname.trim() === '' && draft.site.trim() === '')) {
    return { identity: undefined, errors: {} };
  }
  const candidate: FlashIdentityInput = { deviceId: draft.deviceId, hostname: draft.hostname, site: draft.site, sshPublicKeys: [...sshKeys] };
  const parsed = FlashIdentitySchema.safeParse(candidate);
  if (parsed.success) return { identity: candidate, errors: {} };
  const errors: IdentityCheck['errors'] = {};
  for (const issue of parsed.error.issues) {
    const field = issue.path[0];
    if ((field === 'deviceId' || field === 'hostname' || field === 'site' || field === 'sshPublicKeys') && errors[field] === undefined) errors[field] = issue.message;
  }
  return { identity: undefined, errors };
}

/** The technician's SSH public keys: one per non-empty line. */
export function sshKeyLines(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '');
}

/** Why the SSH key text is not usable, or null. */
export function sshKeyError(text: string): string | null {
  for (const line of sshKeyLines(text)) {
    if (!SshPublicKeySchema.safeParse(line).success) {
      return `Not an OpenSSH public key line: "${line.length > 40 ? `${line.slice(0, 40)}…` : line}". Paste the one line of your .pub file (ssh-ed25519 AAAA… comment).`;
    }
  }
  return null;
}

/** Device ids typed twice among the picked drives (the flash refuses them). */
export function duplicateDeviceIds(order: readonly string[], drafts: Readonly<Record<string, IdentityDraft>>): Set<string> {
  const seen = new Set<string>();
  const twice = new Set<string>();
  for (const device of order) {
    const id = drafts[device]?.deviceId.trim() ?? '';
    if (id === '') continue;
    if (seen.has(id)) twice.add(id);
    seen.add(id);
  }
  return twice;
}

/** The picked drive for `drive`, with the size the technician sees now. */
export function pickDrive(drive: Drive): PickedDrive | null {
  if (!drive.flashable || drive.sizeBytes === null) return null;
  return { device: drive.device, description: drive.description, sizeBytes: drive.sizeBytes };
}

/** The `flash.start` request the confirmed form makes. */
export function flashRequest(
  image: ImageSummary,
  picked: readonly PickedDrive[],
  drafts: Readonly<Record<string, IdentityDraft>>,
  sshKeys: readonly string[],
  options: { eject: boolean },
): RequestOf<'flash.start'> {
  return {
    imagePath: image.path,
    targets: picked.map((drive) => {
      const { identity } = checkIdentity(drafts[drive.device], sshKeys);
      return identity === undefined ? { device: drive.device, expectSizeBytes: drive.sizeBytes } : { device: drive.device, expectSizeBytes: drive.sizeBytes, identity };
    }),
    acceptUnsigned: image.kind === 'plain',
    eject: options.eject,
  };
}

/**
 * Where the picker opens for what is in the path field: the folder typed there, the folder
 * of an image typed there, or (nothing usable) the service's default. `~/…` is passed on for
 * the service to expand; any other file typed there opens its folder (the service sees it is
 * a file, which this side cannot).
 */
export function browseStartDir(typed: string): string | undefined {
  const text = typed.trim();
  if (!text.startsWith('/') && text !== '~' && !text.startsWith('~/') && !/^[A-Za-z]:[\\/]/.test(text)) return undefined;
  const lower = text.toLowerCase();
  const isImage = lower.endsWith('.fkimg') || plainImageExtensions.some((ext) => lower.endsWith(ext));
  if (!isImage) return text.length > 1 ? text.replace(/[\\/]+$/, '') : text;
  const cut = Math.max(text.lastIndexOf('/'), text.lastIndexOf('\\'));
  return cut <= 0 ? text.slice(0, 1) : text.slice(0, cut);
}
