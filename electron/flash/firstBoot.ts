/**
 * First-boot identity: after an image is written and verified, who the Pi will be goes
 * into its boot FAT partition — written by our own FAT writer (fat/), never by mounting,
 * so it works the same for a card, a zram test drive and an image file, on any laptop OS.
 * Every file is read back after a flush and compared by SHA-256.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { AgentConfigSchema } from '../../shared/agentConfig.ts';
import { appError, badRequestFromZod, FieldkitError, isFieldkitError } from '../../shared/errors.ts';
import { SshPublicKeySchema, type FlashIdentity } from '../../shared/flash.ts';
import type { ImageManifest, ImagePartition, PartitionLayout } from '../../shared/image.ts';
import { openDevice } from './fat/blockIo.ts';
import { FatVolume } from './fat/fatVolume.ts';
import { layoutOf } from '../kernel/image/imageLayout.ts';
import { readPartitionTable } from '../kernel/image/partitionTable.ts';
import { shellQuote } from '../kernel/link/shellQuote.ts';

const run = promisify(execFile);

export type FirstBootCustomisation = 'cloud-init' | 'firstrun' | 'none';
export type FirstBootFile = { name: string; bytes: number; sha256: string };

/** What the Raspberry Pi Imager appends to cmdline.txt so systemd runs firstrun.sh once, then reboots. */
export const firstrunHook = 'systemd.run=/boot/firmware/firstrun.sh systemd.run_success_action=reboot systemd.unit=kernel-command-line.target';

export const identityFileName = 'fieldkit-identity.json';
export const agentConfigFileName = 'fieldkit-agent.json';
export const authorizedKeysFileName = 'fieldkit-authorized_keys';

/** The customisation an image declares in its manifest; plain images declare none. */
export function firstBootKind(manifest: ImageManifest | null): FirstBootCustomisation {
  return manifest?.first_boot?.kind ?? 'none';
}

const fatMbrTypes = new Set(['01', '04', '06', '0b', '0c', '0e']);
const fatGptTypes = new Set(['ebd0a0a2-b9e5-4433-87c0-68b6b72699c7', 'c12a7328-f81f-11d2-ba4b-00a0c93ec93b']);

/** Whether a partition type (MBR byte as hex, or GPT GUID) is one FAT lives in. */
export function isFatPartitionType(type: string): boolean {
  const t = type.toLowerCase();
  return fatMbrTypes.has(t) || fatGptTypes.has(t);
}

/** The partition the Pi boots first: `boot_a` when the layout names one, else the first FAT partition. */
export function bootPartition(layout: PartitionLayout, device: string): ImagePartition {
  const chosen = layout.partitions.find((p) => p.role === 'boot_a') ?? layout.partitions.find((p) => isFatPartitionType(p.type));
  if (chosen === undefined) {
    throw new FieldkitError(appError('BAD_REQUEST', `${device} has no FAT boot partition to write the first-boot identity into.`, 'Flash an image with a FAT boot partition (a Raspberry Pi image), or flash without an identity.'));
  }
  if (!isFatPartitionType(chosen.type)) {
    throw new FieldkitError(appError('BAD_REQUEST', `${device}'s boot partition (${chosen.index}, ${chosen.role}) has type ${chosen.type}, which is not FAT.`, 'The image\'s layout is wrong for a Raspberry Pi: its boot partition must be FAT. Flash without an identity, or fix the image.'));
  }
  return chosen;
}

/** The partition layout read from a drive or raw image (plain images carry no manifest). */
export async function readDeviceLayout(device: string): Promise<PartitionLayout> {
  return layoutOf(await readPartitionTable(device));
}

function yamlString(value: string): string {
  // A JSON string is a valid YAML double-quoted scalar: no surprises from "yes", "1.0" or ':'.
  return JSON.stringify(value);
}

function userData(identity: FlashIdentity, user: string, keys: readonly string[]): string {
  return [
    '#cloud-config',
    '# Written by fieldkit: this Pi\'s identity, login keys and agent configuration.',
    `hostname: ${yamlString(identity.hostname)}`,
    'manage_etc_hosts: true',
    'users:',
    `  - name: ${yamlString(user)}`,
    '    groups: users,adm,dialout,audio,netdev,video,plugdev,cdrom,games,input,gpio,spi,i2c,render,sudo',
    '    shell: /bin/bash',
    '    lock_passwd: true',
    '    sudo: ALL=(ALL) NOPASSWD:ALL',
    '    ssh_authorized_keys:',
    ...keys.map((k) => `      - ${yamlString(k)}`),
    'ssh_pwauth: false',
    'enable_ssh: true',
    'runcmd:',
    `  - [sh, -c, ${yamlString(`b=/boot/firmware; [ -d $b ] || b=/boot; install -d -m 755 /etc/fieldkit-agent && install -m 640 $b/${agentConfigFileName} /etc/fieldkit-agent/config.json && install -m 644 $b/${identityFileName} /etc/fieldkit-agent/identity.json`)}]`,
    '  - [systemctl, enable, --now, ssh]',
    '',
  ].join('\n');
}

function firstrunScript(identity: FlashIdentity, user: string): string {
  return [
    '#!/bin/bash',
    '# Written by fieldkit: runs once on first boot (systemd.run= in cmdline.txt), then removes',
    '# its hook and itself. Sets the hostname, authorises the login keys, installs the agent config.',
    'set +e',
    'BOOT=/boot/firmware',
    '[ -d "$BOOT" ] || BOOT=/boot',
    `FK_HOSTNAME=${shellQuote(identity.hostname)}`,
    `FK_USER=${shellQuote(user)}`,
    'CURRENT_HOSTNAME=$(tr -d " \\t\\n\\r" </etc/hostname)',
    'if [ -x /usr/lib/raspberrypi-sys-mods/imager_custom ]; then',
    '  /usr/lib/raspberrypi-sys-mods/imager_custom set_hostname "$FK_HOSTNAME"',
    'else',
    '  echo "$FK_HOSTNAME" >/etc/hostname',
    '  sed -i "s/127.0.1.1.*$CURRENT_HOSTNAME/127.0.1.1\\t$FK_HOSTNAME/g" /etc/hosts',
    'fi',
    'if ! getent passwd "$FK_USER" >/dev/null; then',
    '  useradd -m -s /bin/bash "$FK_USER"',
    '  for g in adm dialout sudo video plugdev gpio i2c spi netdev; do getent group "$g" >/dev/null && usermod -aG "$g" "$FK_USER"; done',
    '  systemctl disable userconfig.service 2>/dev/null',
    'fi',
    'HOME_DIR=$(getent passwd "$FK_USER" | cut -d: -f6)',
    'install -d -m 700 -o "$FK_USER" -g "$(id -gn "$FK_USER")" "$HOME_DIR/.ssh"',
    `install -m 600 -o "$FK_USER" -g "$(id -gn "$FK_USER")" "$BOOT/${authorizedKeysFileName}" "$HOME_DIR/.ssh/authorized_keys"`,
    'install -d -m 755 /etc/fieldkit-agent',
    `install -m 640 "$BOOT/${agentConfigFileName}" /etc/fieldkit-agent/config.json`,
    `install -m 644 "$BOOT/${identityFileName}" /etc/fieldkit-agent/identity.json`,
    'if [ -x /usr/lib/raspberrypi-sys-mods/imager_custom ]; then',
    '  /usr/lib/raspberrypi-sys-mods/imager_custom enable_ssh',
    'else',
    '  systemctl enable ssh',
    'fi',
    `sed -i 's| ${firstrunHook}||' "$BOOT/cmdline.txt"`,
    'rm -f "$BOOT/firstrun.sh"',
    'exit 0',
    '',
  ].join('\n');
}

const networkConfigHeader = '# Written by fieldkit: DHCP on the wired port';
const networkConfig = [`${networkConfigHeader} (an image's own network-config is kept).`, 'version: 2', 'ethernets:', '  eth0:', '    dhcp4: true', '    optional: true', ''].join('\n');

/** cmdline.txt as one line with the firstrun hook appended once (unchanged when it is there). */
export function withFirstrunHook(cmdline: string): string {
  const line = cmdline.split(/\r?\n/).find((l) => l.trim() !== '')?.trim() ?? '';
  return `${line.split(/\s+/).join(' ').includes(firstrunHook) ? line : `${line} ${firstrunHook}`.trim()}\n`;
}

export type FirstBootFilesOptions = {
  customisation: FirstBootCustomisation;
  identity: FlashIdentity;
  appSshPublicKey: string;
  user: string;
};

/**
 * The files to write, in order (the cmdline hook last, once its script is in place);
 * `existing` reads a file already on the boot partition (null when absent).
 */
export async function firstBootFiles(options: FirstBootFilesOptions, existing: (name: string) => Promise<Buffer | null>): Promise<{ name: string; content: Buffer }[]> {
  const { identity, customisation, user } = options;
  const appKey = SshPublicKeySchema.safeParse(options.appSshPublicKey);
  if (!appKey.success) {
    throw new FieldkitError(appError('INTERNAL', "fieldkit's own SSH public key is not an OpenSSH key line.", "Restart fieldkit; if it persists, remove the app's SSH key from its data folder so a new one is made."));
  }
  const agent = AgentConfigSchema.safeParse({ ...(identity.agentConfig ?? {}), device_id: identity.deviceId, site: identity.site });
  if (!agent.success) throw new FieldkitError(badRequestFromZod('identity.agentConfig', agent.error));
  const keys = [...new Set([appKey.data, ...identity.sshPublicKeys.map((k) => k.trim())])];
  const json = (value: unknown): Buffer => Buffer.from(`${JSON.stringify(value, null, 2)}\n`);
  const files: { name: string; content: Buffer }[] = [
    { name: identityFileName, content: json({ device_id: identity.deviceId, hostname: identity.hostname, site: identity.site }) },
    { name: agentConfigFileName, content: json(agent.data) },
    { name: authorizedKeysFileName, content: Buffer.from(`${keys.join('\n')}\n`) },
  ];
  if (customisation === 'cloud-init') {
    files.push({ name: 'user-data', content: Buffer.from(userData(identity, user, keys)) });
    files.push({ name: 'meta-data', content: Buffer.from(`instance-id: ${yamlString(identity.deviceId)}\n`) });
    // The image's own network-config wins; ours (from an earlier run) is rewritten, so a rerun writes the same files.
    const network = await existing('network-config');
    if (network === null || network.toString('utf8').startsWith(networkConfigHeader)) files.push({ name: 'network-config', content: Buffer.from(networkConfig) });
  } else if (customisation === 'firstrun') {
    const cmdline = await existing('cmdline.txt');
    if (cmdline === null) {
      throw new FieldkitError(appError('BAD_REQUEST', 'The image declares firstrun.sh but its boot partition has no cmdline.txt to hook it into.', 'Rebuild the image with a cmdline.txt, or declare cloud-init (or none) when packing it.'));
    }
    files.push({ name: 'firstrun.sh', content: Buffer.from(firstrunScript(identity, user)) });
    files.push({ name: 'cmdline.txt', content: Buffer.from(withFirstrunHook(cmdline.toString('utf8'))) });
  }
  return files;
}

export type ApplyFirstBootOptions = {
  /** Block device or image file. */
  device: string;
  /** From the manifest, or read from the drive for plain images (readDeviceLayout). */
  layout: PartitionLayout;
  customisation: FirstBootCustomisation;
  identity: FlashIdentity;
  /** The app's own key line, always authorised. */
  appSshPublicKey: string;
  /** The image's login user (manifest first_boot.user), default 'pi'. */
  user?: string;
  signal?: AbortSignal;
};

const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');

function throwIfCancelled(signal: AbortSignal | undefined, device: string): void {
  if (signal?.aborted === true) throw new FieldkitError(appError('CANCELLED', `Writing the first-boot identity to ${device} was cancelled.`, 'The drive may hold only part of the identity: flash it again before use.'));
}

function ioFailure(device: string, stage: string, cause: unknown): FieldkitError {
  if (isFieldkitError(cause)) return cause;
  return new FieldkitError(appError('IO_ERROR', `${stage} the first-boot files on ${device} failed: ${(cause as Error).message}.`, 'Check that the drive is still connected, then flash it again.'), { cause });
}

/**
 * Writes the identity files (and the image's first-boot customisation) into the boot
 * partition of `device`, flushes, reads every one back and compares. Returns the files
 * written, each verified; any mismatch or failure is a FieldkitError naming the drive.
 */
export async function applyFirstBoot(options: ApplyFirstBootOptions): Promise<FirstBootFile[]> {
  const { device, signal } = options;
  const partition = bootPartition(options.layout, device);
  const where = { offset: partition.start, size: partition.size, name: `${device} partition ${partition.index}` };
  throwIfCancelled(signal, device);

  const writer = await openDevice(device, 'write');
  let files: { name: string; content: Buffer }[];
  try {
    const volume = await FatVolume.open(writer.io, where);
    files = await firstBootFiles({ customisation: options.customisation, identity: options.identity, appSshPublicKey: options.appSshPublicKey, user: options.user ?? 'pi' }, (name) => volume.readFile(name));
    const shortfall = await volume.shortfallFor(files.map((f) => ({ name: f.name, bytes: f.content.length })));
    if (shortfall > 0) {
      throw new FieldkitError(
        appError('IO_ERROR', `Disk full: the first-boot files need ${shortfall} more bytes than ${where.name} has free.`, 'Use an image whose boot partition has room (a few KiB), or remove files from it; nothing was written.'),
      );
    }
    const when = new Date();
    for (const file of files) {
      throwIfCancelled(signal, device);
      await volume.writeFile(file.name, file.content, { when });
    }
    await writer.handle.sync();
  } catch (error) {
    throw ioFailure(device, 'Writing', error);
  } finally {
    await writer.handle.close().catch(() => undefined);
  }
  // Drop the kernel's cached copy so the read-back comes from the drive itself.
  if (writer.isBlockDevice && process.platform === 'linux') {
    await run('blockdev', ['--flushbufs', device]).catch((error: unknown) => {
      throw ioFailure(device, 'Flushing', error);
    });
  }

  const reader = await openDevice(device, 'read');
  try {
    const volume = await FatVolume.open(reader.io, where);
    const verified: FirstBootFile[] = [];
    for (const file of files) {
      const back = await volume.readFile(file.name);
      const expected = sha256(file.content);
      if (back === null || sha256(back) !== expected) {
        throw new FieldkitError(
          appError('VERIFICATION_FAILED', `${file.name} read back from ${device} ${back === null ? 'is missing' : 'differs from what was written'}.`, 'The drive did not keep what was written: flash it again, and replace the card if this repeats.'),
        );
      }
      verified.push({ name: file.name, bytes: file.content.length, sha256: expected });
    }
    return verified;
  } catch (error) {
    throw ioFailure(device, 'Reading back', error);
  } finally {
    await reader.handle.close().catch(() => undefined);
  }
}
