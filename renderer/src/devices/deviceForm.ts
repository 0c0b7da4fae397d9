/**
 * The Add device form as data: its values, the checks made before anything is sent, and
 * where an error the service names (`error.field`) belongs on the form.
 */
import type { RequestOf } from '../../../shared/api.ts';
import type { AppError } from '../../../shared/errors.ts';
import { parseSshAddress } from '../../../shared/sshAddress.ts';

export type LinkKind = 'ssh' | 'serial';

export type DeviceFormValues = {
  kind: LinkKind;
  host: string;
  port: string;
  username: string;
  agentPrefix: string;
  path: string;
  baudRate: string;
  name: string;
  site: string;
};

export type DeviceFormField = Exclude<keyof DeviceFormValues, 'kind'>;
export type FieldErrors = Partial<Record<DeviceFormField, string>>;

export const defaultAgentPrefix = '/opt/fieldkit-agent';

/** What discovery found, to start the form from. */
export type AddDevicePrefill = { kind: 'ssh'; host: string; port: number; name: string | null } | { kind: 'serial'; path: string; name: string | null };

export function initialFormValues(prefill: AddDevicePrefill | null): DeviceFormValues {
  const values: DeviceFormValues = {
    kind: 'ssh',
    host: '',
    port: '22',
    username: 'pi',
    agentPrefix: defaultAgentPrefix,
    path: '',
    baudRate: '115200',
    name: '',
    site: '',
  };
  if (prefill === null) return values;
  if (prefill.kind === 'ssh') return { ...values, kind: 'ssh', host: prefill.host, port: String(prefill.port), name: prefill.name ?? '' };
  return { ...values, kind: 'serial', path: prefill.path, name: prefill.name ?? '' };
}

const userPattern = /^[a-z_][a-z0-9_-]*\$?$/;
const prefixPattern = /^\/[A-Za-z0-9._/-]*$/;

function wholeNumber(text: string, min: number, max: number): number | null {
  if (!/^\d+$/.test(text.trim())) return null;
  const value = Number(text.trim());
  return value >= min && value <= max ? value : null;
}

/** `10.0.0.300 is not …` → `10.0.0.300 is not ….` with a capital, as the form's other messages. */
function sentence(text: string): string {
  return `${text.charAt(0).toUpperCase()}${text.slice(1)}.`;
}

/** The same rules the service applies, worded for the technician and checked before sending. */
export function checkDeviceForm(values: DeviceFormValues): { request: RequestOf<'devices.add'> } | { errors: FieldErrors } {
  const errors: FieldErrors = {};
  const username = values.username.trim();
  const agentPrefix = values.agentPrefix.trim();
  if (!userPattern.test(username) || username.length > 32) errors.username = 'Lower case, such as pi.';
  if (!prefixPattern.test(agentPrefix) || agentPrefix.length > 256) errors.agentPrefix = 'An absolute path, such as /opt/fieldkit-agent.';
  if (values.name.trim().length > 64) errors.name = 'At most 64 characters.';
  if (values.site.trim().length > 64) errors.site = 'At most 64 characters.';

  let link: RequestOf<'devices.add'>['link'] | null = null;
  if (values.kind === 'ssh') {
    // The Host field takes a whole address too (pi@10.0.0.7:2222, as in the README): its
    // user and port then win over the User and Port fields.
    const parsed = values.host.trim() === '' ? null : parseSshAddress(values.host);
    const port = parsed?.ok === true && parsed.address.port !== null ? parsed.address.port : wholeNumber(values.port, 1, 65535);
    if (parsed === null) errors.host = "Enter the Pi's IP address or host name, such as 10.0.0.7, pi-07.local or pi@10.0.0.7.";
    else if (!parsed.ok) errors.host = sentence(parsed.message);
    if (port === null) errors.port = 'From 1 to 65535.';
    if (parsed?.ok === true && port !== null) {
      const user = parsed.address.username ?? username;
      if (parsed.address.username !== null) delete errors.username;
      link = { kind: 'ssh', host: parsed.address.host, port, username: user, agentPrefix };
    }
  } else {
    const path = values.path.trim();
    const baudRate = wholeNumber(values.baudRate, 1, 10_000_000);
    if (path === '') errors.path = 'Enter the serial port, such as /dev/ttyUSB0 (Linux), /dev/tty.usbserial-… (macOS) or COM3 (Windows).';
    if (baudRate === null) errors.baudRate = 'Bits per second, such as 115200.';
    if (baudRate !== null) link = { kind: 'serial', path, baudRate, username, agentPrefix };
  }
  if (Object.keys(errors).length > 0 || link === null) return { errors };
  const name = values.name.trim();
  const site = values.site.trim();
  return { request: { link, ...(name === '' ? {} : { name }), ...(site === '' ? {} : { site }) } };
}

/** The form field an API error names (`link.host`, `link`, `name` …), or null for a form-wide error. */
export function formFieldOfError(error: AppError, kind: LinkKind): DeviceFormField | null {
  const field = error.field;
  if (field === undefined) return null;
  if (field === 'link') return kind === 'ssh' ? 'host' : 'path';
  const bare = field.replace(/^link\./, '');
  const known: readonly DeviceFormField[] = ['host', 'port', 'username', 'agentPrefix', 'path', 'baudRate', 'name', 'site'];
  return known.find((name) => name === bare) ?? null;
}

/**
 * An API error as one line under a field. A BAD_REQUEST's message and hint talk about the
 * API contract; under the field only the rule itself helps.
 */
export function fieldErrorText(error: AppError): string {
  if (error.code === 'BAD_REQUEST') {
    const rule = /field '[^']*': (.*)$/.exec(error.message)?.[1];
    if (rule !== undefined) return `Expected ${rule}.`;
  }
  return `${error.message} ${error.hint}`;
}
