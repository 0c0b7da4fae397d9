/** Devices this laptop knows: adding, host keys, connecting, discovery, provisioning. */
import { z } from 'zod';
import { DeviceRefSchema, DeviceSchema, DiscoveryResultSchema, LinkSpecSchema } from '../devices.ts';
import { JobIdSchema, type JobKindContract } from '../jobId.ts';
import { ProvisionJobResultSchema, ProvisionRequestSchema, ProvisionStoppedResultSchema } from '../provision.ts';
import type { MethodSpec } from './methodSpec.ts';

export const devicesMethods = {
  'devices.list': {
    summary: 'Devices this laptop knows, with how to reach each and what its agent last said.',
    request: z.strictObject({}),
    response: z.object({ devices: z.array(DeviceSchema) }),
  },
  'devices.add': {
    summary: 'Register a device by its SSH address, serial port, or (demo) local agent command.',
    request: z.strictObject({ name: z.string().min(1).max(64).optional(), site: z.string().max(64).optional(), link: LinkSpecSchema }),
    response: z.object({ device: DeviceSchema }),
  },
  'devices.update': {
    summary: "Rename a device or change its site.",
    request: z.strictObject({ id: DeviceRefSchema, name: z.string().min(1).max(64).optional(), site: z.string().max(64).optional() }),
    response: z.object({ device: DeviceSchema }),
  },
  'devices.remove': {
    summary: 'Forget a device (its pulled journals stay on this laptop).',
    request: z.strictObject({ id: DeviceRefSchema }),
    response: z.object({ removed: DeviceRefSchema }),
  },
  'devices.scanHostKey': {
    summary: "Read an SSH device's host key fingerprint, to compare with the one on the Pi before trusting it.",
    request: z.strictObject({ id: DeviceRefSchema }),
    response: z.object({ fingerprint: z.string(), pinned: z.string().nullable() }),
  },
  'devices.trustHostKey': {
    summary: 'Pin the host key the technician compared; refused if the device now shows another.',
    request: z.strictObject({ id: DeviceRefSchema, fingerprint: z.string().regex(/^SHA256:[A-Za-z0-9+/]{43}$/, 'an OpenSSH SHA256 fingerprint') }),
    response: z.object({ device: DeviceSchema }),
  },
  'devices.forgetHostKey': {
    summary: "Unpin a device's host key (after a reinstall), so a new one can be checked and accepted.",
    request: z.strictObject({ id: DeviceRefSchema }),
    response: z.object({ device: DeviceSchema }),
  },
  'devices.connect': {
    summary: 'Connect to a device and greet its agent; a password (first contact) installs fieldkit\'s key.',
    request: z.strictObject({ id: DeviceRefSchema, password: z.string().max(256).optional() }),
    response: z.object({ device: DeviceSchema, roundTripMs: z.number().nonnegative().nullable() }),
  },
  'devices.discover': {
    summary: 'Look for devices: serial ports, mDNS (_ssh._tcp) and, when given, a probe of one subnet for SSH (a job).',
    request: z.strictObject({
      subnet: z
        .string()
        .regex(/^\d{1,3}(\.\d{1,3}){3}\/(2[2-9]|3[0-2])$/, 'an IPv4 subnet no larger than /22, such as 192.168.1.0/24')
        .optional(),
      port: z.number().int().min(1).max(65535).default(22),
      mdns: z.boolean().default(true),
      serial: z.boolean().default(true),
    }),
    response: z.object({ jobId: JobIdSchema }),
  },
  'devices.provision': {
    summary: 'Provision a fresh Pi over its serial console: hostname, identity, fieldkit\'s SSH key, sshd, network; then register it over SSH with the host key read over the cable (a job).',
    request: ProvisionRequestSchema,
    response: z.object({ jobId: JobIdSchema }),
  },
} as const satisfies Record<string, MethodSpec>;

/** The devices domain's job kinds (discovery; provisioning, run by the provision domain) and what each returns. */
export const devicesJobs = {
  'devices.discover': { result: DiscoveryResultSchema },
  'devices.provision': { result: ProvisionJobResultSchema, stopped: ProvisionStoppedResultSchema },
} as const satisfies Record<string, JobKindContract>;
