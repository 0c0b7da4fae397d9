/** What a devices.provision job did, in one line and as a step list (the dialog and the jobs panel). */
import { ProvisionJobResultSchema, ProvisionRequestSchema, ProvisionStepSchema, type ProvisionRequest, type ProvisionStep } from '../../../shared/provision.ts';
import { z } from 'zod';

const stepLabels: Record<ProvisionStep['name'], string> = {
  hostname: 'Hostname',
  identity: 'Device identity',
  'ssh-key': "fieldkit's SSH key",
  sshd: 'SSH server',
  'wifi-country': 'Wi-Fi country',
  'usb-gadget': 'USB gadget boot settings',
  network: 'Network',
  'confirm-ssh': 'Answers over SSH',
};

export function stepLabel(name: ProvisionStep['name']): string {
  return stepLabels[name];
}

/** The steps a job (finished or failed) carries in its result. */
export function provisionSteps(result: unknown): ProvisionStep[] {
  const parsed = z.object({ steps: z.array(ProvisionStepSchema) }).safeParse(result);
  return parsed.success ? parsed.data.steps : [];
}

export function summarizeProvision(result: unknown): string | null {
  const parsed = ProvisionJobResultSchema.safeParse(result);
  if (!parsed.success) return null;
  const changed = parsed.data.steps.filter((s) => s.changed).length;
  const what = changed === 0 ? 'nothing to change' : `${String(changed)} step${changed === 1 ? '' : 's'} changed`;
  return `${parsed.data.device.name} answers over SSH at ${parsed.data.ssh.host}:${String(parsed.data.ssh.port)} (${what}); host key pinned.`;
}

/** The steps a running job has reported so far (its log lines `name: changed — detail`). */
export function stepsFromLog(log: readonly { message: string }[]): ProvisionStep[] {
  return log.flatMap((line) => {
    const m = /^([a-z-]+): (changed|unchanged) — (.*)$/s.exec(line.message);
    const name = ProvisionStepSchema.shape.name.safeParse(m?.[1]);
    return m && name.success ? [{ name: name.data, changed: m[2] === 'changed', detail: m[3] ?? '' }] : [];
  });
}

export type ProvisionFormValues = {
  hostname: string;
  deviceId: string;
  site: string;
  mode: 'dhcp' | 'static' | 'wifi' | 'usb-gadget';
  address: string;
  gateway: string;
  dns: string;
  ssid: string;
  country: string;
  psk: string;
  sshHost: string;
  password: string;
};

export const emptyProvisionForm: ProvisionFormValues = { hostname: '', deviceId: '', site: '', mode: 'dhcp', address: '', gateway: '', dns: '', ssid: '', country: '', psk: '', sshHost: '', password: '' };

/** The form's fields, by the request path the schema names in an error. */
const fieldOfPath: Record<string, keyof ProvisionFormValues> = {
  'identity.hostname': 'hostname',
  'identity.deviceId': 'deviceId',
  'identity.site': 'site',
  'network.address': 'address',
  'network.gateway': 'gateway',
  'network.ssid': 'ssid',
  'network.country': 'country',
  wifiPsk: 'psk',
  sshHost: 'sshHost',
};

/** The devices.provision request for the form, or the message for each field that is wrong. */
export function provisionRequestFromForm(id: string, v: ProvisionFormValues): { request: ProvisionRequest } | { errors: Partial<Record<keyof ProvisionFormValues, string>> } {
  const trimmed = (s: string) => s.trim();
  const network =
    v.mode === 'static'
      ? { mode: v.mode, address: trimmed(v.address), ...(trimmed(v.gateway) ? { gateway: trimmed(v.gateway) } : {}), dns: v.dns.split(/[\s,]+/).filter((d) => d !== '') }
      : v.mode === 'wifi'
        ? { mode: v.mode, ssid: v.ssid, country: trimmed(v.country) }
        : v.mode === 'usb-gadget'
          ? { mode: v.mode, ...(trimmed(v.address) ? { address: trimmed(v.address) } : {}) }
          : { mode: v.mode };
  const candidate = {
    id,
    identity: { hostname: trimmed(v.hostname), deviceId: trimmed(v.deviceId), site: trimmed(v.site) },
    network,
    ...(v.mode === 'wifi' ? { wifiPsk: v.psk } : {}),
    ...(trimmed(v.sshHost) ? { sshHost: trimmed(v.sshHost) } : {}),
    ...(v.password !== '' ? { password: v.password } : {}),
  };
  const parsed = ProvisionRequestSchema.safeParse(candidate);
  if (parsed.success) return { request: parsed.data };
  const errors: Partial<Record<keyof ProvisionFormValues, string>> = {};
  for (const issue of parsed.error.issues) {
    const field = fieldOfPath[issue.path.join('.')] ?? (issue.path[0] === 'network' && issue.path[1] === 'dns' ? 'dns' : undefined);
    if (field !== undefined) errors[field] ??= issue.message;
  }
  if (Object.keys(errors).length === 0) errors.hostname = parsed.error.issues[0]?.message ?? 'Check the form.';
  return { errors };
}
