/**
 * Provisioning a fresh Pi over its serial console (first boot, no network yet): who it is
 * (hostname, device id, site), fieldkit's SSH key, sshd, and its network — then proof
 * that it answers over SSH with the host key read over the cable. The `devices.provision`
 * job's request and result.
 */
import { z } from 'zod';
import { TranscriptEntrySchema } from './deploy.ts';
import { DeviceRefSchema, DeviceSchema } from './devices.ts';

const ipv4 = z
  .string()
  .trim()
  .regex(/^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/, 'an IPv4 address such as 192.168.1.20');
const cidr = z
  .string()
  .trim()
  .regex(/^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}\/([1-9]|[12]\d|3[0-2])$/, 'an IPv4 address with its prefix, such as 192.168.1.20/24');
const interfaceName = z
  .string()
  .trim()
  .regex(/^[A-Za-z0-9_.-]{1,15}$/, 'a network interface name such as eth0');

export const ProvisionHostnameSchema = z
  .string()
  .trim()
  .min(1, 'give the Pi a hostname')
  .max(63, 'a hostname is at most 63 characters')
  .regex(/^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?$/, 'a hostname is letters, digits and inner dashes (no dots, no spaces)');

export const ProvisionIdentitySchema = z.strictObject({
  hostname: ProvisionHostnameSchema,
  deviceId: z
    .string()
    .trim()
    .min(1, 'give the device an id')
    .max(128)
    .regex(/^[A-Za-z0-9._-]+$/, 'a device id is letters, digits, dot, dash, underscore'),
  site: z.string().trim().max(128).default(''),
});
export type ProvisionIdentity = z.output<typeof ProvisionIdentitySchema>;

/** A Wi-Fi passphrase (WPA2-PSK: 8–63 characters). A secret: never stored with a job or shown in a transcript. */
export const WifiPskSchema = z.string().min(8, 'a WPA passphrase has at least 8 characters').max(63, 'a WPA passphrase has at most 63 characters');

/**
 * How the Pi reaches the network after provisioning. The Wi-Fi passphrase is not part of
 * it: it travels separately (a job secret), so the network plan can be stored and shown.
 */
export const ProvisionNetworkSchema = z.discriminatedUnion('mode', [
  z.strictObject({ mode: z.literal('dhcp'), interface: interfaceName.default('eth0') }),
  z.strictObject({
    mode: z.literal('static'),
    interface: interfaceName.default('eth0'),
    address: cidr,
    gateway: ipv4.optional(),
    dns: z.array(ipv4).max(4).default([]),
  }),
  z.strictObject({
    mode: z.literal('wifi'),
    interface: interfaceName.default('wlan0'),
    ssid: z.string().min(1, 'name the Wi-Fi network').max(32, 'an SSID is at most 32 bytes'),
    /** ISO 3166 country: sets the radio's regulatory domain (channels and power allowed there). */
    country: z
      .string()
      .trim()
      .transform((c) => c.toUpperCase())
      .pipe(z.string().regex(/^[A-Z]{2}$/, 'a two-letter country code such as DE or US')),
  }),
  z.strictObject({
    mode: z.literal('usb-gadget'),
    /** usb0's static address; absent: an IPv4 link-local address (169.254.x.x, found by mDNS). */
    address: cidr.optional(),
  }),
]);
export type ProvisionNetwork = z.output<typeof ProvisionNetworkSchema>;
export type ProvisionNetworkInput = z.input<typeof ProvisionNetworkSchema>;

export const ProvisionStepNameSchema = z.enum(['hostname', 'identity', 'ssh-key', 'sshd', 'network', 'wifi-country', 'usb-gadget', 'confirm-ssh']);
export type ProvisionStepName = z.infer<typeof ProvisionStepNameSchema>;

export const ProvisionStepSchema = z.object({
  name: ProvisionStepNameSchema,
  /** False when the device already was as asked (a second run changes nothing). */
  changed: z.boolean(),
  /** What was found or done, in a technician's words. */
  detail: z.string(),
});
export type ProvisionStep = z.infer<typeof ProvisionStepSchema>;

export const ProvisionResultSchema = z.object({
  steps: z.array(ProvisionStepSchema),
  /** The SSH host key's fingerprint (OpenSSH SHA256:…), read over the serial cable: pinned without trusting first use. */
  sshHostKey: z.string(),
  /** Where SSH answered with fieldkit's key and that host key. */
  ssh: z.object({ host: z.string(), port: z.number().int(), username: z.string() }),
  /** How the network is configured: NetworkManager, dhcpcd, systemd-networkd or ifupdown. */
  networkBackend: z.string(),
  transcript: z.array(TranscriptEntrySchema),
  durationMs: z.number().nonnegative(),
});
export type ProvisionResult = z.infer<typeof ProvisionResultSchema>;

/** The devices.provision job's result: the provisioning and the SSH device it registered (its host key pinned). */
export const ProvisionJobResultSchema = ProvisionResultSchema.extend({ device: DeviceSchema });
export type ProvisionJobResult = z.infer<typeof ProvisionJobResultSchema>;

/** What a devices.provision job that failed or was cancelled still carries: the steps it took and the console transcript. */
export const ProvisionStoppedResultSchema = z.object({ steps: z.array(ProvisionStepSchema), transcript: z.array(TranscriptEntrySchema) });
export type ProvisionStoppedResult = z.infer<typeof ProvisionStoppedResultSchema>;

export const ProvisionRequestSchema = z.strictObject({
  /** A registered serial device: the console the Pi is provisioned over. */
  id: DeviceRefSchema,
  identity: ProvisionIdentitySchema,
  network: ProvisionNetworkSchema,
  /** Required with Wi-Fi; a secret (never stored with the job, never in a transcript). */
  wifiPsk: WifiPskSchema.optional(),
  /** The login user whose authorized_keys gets fieldkit's key; the serial device's user when absent. */
  user: z.string().regex(/^[a-z_][a-z0-9_-]*$/, 'a Linux user name (lower case)').max(32).optional(),
  /** Where to confirm SSH; absent: the static or gadget address, else the address the interface got. */
  sshHost: z.string().min(1).max(253).regex(/^[A-Za-z0-9.:_-]+$/, 'a host name or IP address').optional(),
  /** Absent: the port sshd on the Pi is configured for. */
  sshPort: z.number().int().min(1).max(65535).optional(),
  /** The console's login password, when it asks and none is saved for the device. */
  password: z.string().max(256).optional(),
});
export type ProvisionRequest = z.output<typeof ProvisionRequestSchema>;
