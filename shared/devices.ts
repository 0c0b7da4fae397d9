/**
 * The devices this laptop knows: how to reach each (SSH, serial, local), the SSH host key
 * pinned for it, and what its agent said about itself the last time.
 */
import { z } from 'zod';
import { hostProblem, usernameProblem } from './sshAddress.ts';

export const DeviceRefSchema = z.string().regex(/^dev_[0-9a-z]{6,40}$/, 'a device id looks like dev_ followed by letters and digits');

/** An IPv4 address (four numbers 0–255), an IPv6 address, or an RFC 1123 host name. */
const hostname = z.string().superRefine((host, ctx) => {
  const problem = hostProblem(host);
  if (problem !== null) ctx.addIssue({ code: 'custom', message: `a host name or IP address (${problem})` });
});
const username = z.string().superRefine((name, ctx) => {
  const problem = usernameProblem(name);
  if (problem !== null) ctx.addIssue({ code: 'custom', message: `a Linux user name (${problem})` });
});
/**
 * The looser rules of earlier versions, for devices already registered: a stored
 * `10.0.0.300` must still list (and fail to connect, saying why), not hide every device.
 */
const storedHostname = z.string().min(1).max(253).regex(/^[A-Za-z0-9.:_%-]+$/, 'a host name or IP address');
const storedUsername = z.string().min(1).max(32).regex(/^[a-z_][a-z0-9_-]*\$?$/, 'a Linux user name (lower case)');

/** Where the agent is installed on the device (deploy's install prefix). */
const agentPrefix = z
  .string()
  .regex(/^\/[A-Za-z0-9._/-]*$/, 'an absolute path of letters, digits, dot, dash, underscore and slashes')
  .max(256)
  .default('/opt/fieldkit-agent');

function linkSpecSchemas(rules: { host: z.ZodType<string>; username: z.ZodType<string> }) {
  const ssh = z.strictObject({
    kind: z.literal('ssh'),
    host: rules.host,
    port: z.number().int().min(1).max(65535).default(22),
    username: rules.username.default('pi'),
    agentPrefix,
  });
  const serial = z.strictObject({
    kind: z.literal('serial'),
    path: z.string().min(1).max(256),
    baudRate: z.number().int().positive().default(115200),
    username: rules.username.default('pi'),
    agentPrefix,
  });
  const local = z.strictObject({
    kind: z.literal('local'),
    /** Shell command that starts the agent's RPC on this computer (demo site, tests). */
    agentCommand: z.string().min(1).max(4096),
  });
  return { ssh, serial, local, link: z.discriminatedUnion('kind', [ssh, serial, local]) };
}

const newLinks = linkSpecSchemas({ host: hostname, username });
export const SshLinkSpecSchema = newLinks.ssh;
export const SerialLinkSpecSchema = newLinks.serial;
export const LocalLinkSpecSchema = newLinks.local;
/** How to reach a device being registered: addresses are checked in full (shared/sshAddress.ts). */
export const LinkSpecSchema = newLinks.link;
/** How a registered device is reached, as stored (see storedHostname). */
export const StoredLinkSpecSchema = linkSpecSchemas({ host: storedHostname, username: storedUsername }).link;
export type LinkSpec = z.output<typeof LinkSpecSchema>;

export const DeviceSchema = z.object({
  id: DeviceRefSchema,
  name: z.string(),
  site: z.string(),
  link: StoredLinkSpecSchema,
  /** SHA-256 fingerprint of the SSH host key accepted for this device (OpenSSH format). */
  hostKeyFingerprint: z.string().nullable(),
  /** What the agent calls itself (device_id in its journal), once it has answered. */
  agentDeviceId: z.string().nullable(),
  journalId: z.string().nullable(),
  agentVersion: z.string().nullable(),
  modelVersion: z.string().nullable(),
  /** Device clock minus laptop clock at the last contact (many Pis have no RTC). */
  clockOffsetMs: z.number().int().nullable(),
  lastSeenMs: z.number().int().nullable(),
  lastError: z.string().nullable(),
  addedMs: z.number().int(),
});
export type Device = z.infer<typeof DeviceSchema>;

/** A place a device might be, found by discovery: not yet added. */
export const DiscoveredSchema = z.object({
  kind: z.enum(['ssh', 'serial']),
  /** host:port for SSH, the port path for serial. */
  address: z.string(),
  name: z.string().nullable(),
  source: z.enum(['mdns', 'subnet', 'serial']),
  /** For serial ports: what the USB adapter says it is. */
  detail: z.string().nullable(),
  /** True when a device already registered uses this address. */
  known: z.boolean(),
});
export type Discovered = z.infer<typeof DiscoveredSchema>;

/** A discovery source that did not work as usual: found another way, or not looked at at all. */
export const DiscoverySourceNoteSchema = z.object({
  source: z.enum(['mdns', 'subnet', 'serial']),
  /** degraded: still searched, another way; unavailable: nothing could be searched there. */
  state: z.enum(['degraded', 'unavailable']),
  /** "serial ports: udevadm not found — listed from /sys instead". */
  message: z.string(),
});
export type DiscoverySourceNote = z.infer<typeof DiscoverySourceNoteSchema>;

/** What the devices.discover job found. */
export const DiscoveryResultSchema = z.object({
  found: z.array(DiscoveredSchema),
  probed: z.number().int().nonnegative(),
  /** Sources that were unavailable or searched another way, and why (absent in results of older versions). */
  sources: z.array(DiscoverySourceNoteSchema).default([]),
});
export type DiscoveryResult = z.infer<typeof DiscoveryResultSchema>;
