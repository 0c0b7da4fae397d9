/** What a devices.provision job did, in one line and as a step list (the dialog and the jobs panel). */
import { ProvisionJobResultSchema, ProvisionStepSchema, type ProvisionStep } from '../../../shared/provision.ts';
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
