/**
 * Provisioning a fresh Pi over its serial console: the technician's first-boot checklist,
 * automated and idempotent. Each step looks at the Pi first and changes only what
 * differs, so a second run reports every step unchanged. Every command is transcribed
 * (secrets blanked). The SSH host key is read over the cable, so the first SSH contact is
 * pinned without trusting it on first use; the last step proves the Pi answers over SSH
 * with fieldkit's key and that host key.
 */
import type { TranscriptEntry } from '../../shared/deploy.ts';
import { appError, FieldkitError, isFieldkitError } from '../../shared/errors.ts';
import type { ProvisionIdentity, ProvisionNetwork, ProvisionResult, ProvisionStep, ProvisionStepName } from '../../shared/provision.ts';
import type { AppSshKey } from '../kernel/link/appSshKey.ts';
import { hostKeyFingerprint } from '../kernel/link/hostKeyFingerprint.ts';
import type { Link } from '../kernel/link/linkApi.ts';
import { shellQuote } from '../kernel/link/shellQuote.ts';
import { connectSsh } from '../kernel/link/sshLink.ts';
import { withDwc2Overlay, withGadgetModules } from './bootConfig.ts';
import { backendLabel, chooseNetworkBackend, describeNetwork, interfaceOf, planNetwork, wifiCountryModprobe, withInterfacesSource, wpaPskHex, type NetworkFacts } from './networkPlan.ts';
import { cancelled, createProvisionCommands, type ProvisionCommands } from './provisionCommands.ts';
import { putRemoteFile, readRemoteFile } from './remoteFiles.ts';

export type ProvisionOptions = {
  /** The serial console link, logged in (connectSerial). */
  link: Link;
  identity: ProvisionIdentity;
  /** fieldkit's own key: its public half is installed, its private half proves SSH works. */
  appKey: AppSshKey;
  /** Whose authorized_keys gets the key (the image's login user, usually pi). */
  user: string;
  network: ProvisionNetwork;
  /** The Wi-Fi passphrase (Wi-Fi only); never transcribed. */
  wifiPsk?: string | undefined;
  /** Where to confirm SSH; derived from the network (or the address the interface got) when absent. */
  sshHost?: string | undefined;
  /** The port to confirm SSH on; the one sshd on the Pi is configured for when absent. */
  sshPort?: number | undefined;
  /** How long to keep trying SSH (sshd starting, DHCP); default 30 s. */
  confirmTimeoutMs?: number;
  signal?: AbortSignal | undefined;
  onTranscript?: ((entry: TranscriptEntry) => void) | undefined;
  /** Each step as it finishes. */
  onStep?: ((step: ProvisionStep) => void) | undefined;
};

/** Where fieldkit keeps the device's identity (the same file a flash's first boot writes). */
export const identityPath = '/etc/fieldkit-agent/identity.json';
const agentConfigPath = '/etc/fieldkit-agent/config.json';

type Facts = NetworkFacts & { loginUser: string; sudo: boolean; bootDir: string | null };

const factsScript = [
  'export PATH=$PATH:/usr/sbin:/sbin',
  'echo "user=$(id -un)"',
  'if sudo -n true 2>/dev/null; then echo sudo=yes; else echo sudo=no; fi',
  'for t in nmcli iw raspi-config rfkill wpa_supplicant wpa_cli hostnamectl dhcpcd ifup sshd ssh-keygen; do command -v $t >/dev/null 2>&1 && echo "tool=$t"; done',
  'for u in NetworkManager dhcpcd systemd-networkd networking ssh sshd; do s=$(systemctl is-enabled $u.service 2>/dev/null); echo "unit=$u ${s:-absent} $(systemctl is-active $u.service 2>/dev/null)"; done',
  'if [ -x /lib/systemd/systemd-networkd ] || [ -x /usr/lib/systemd/systemd-networkd ]; then echo networkd=yes; fi',
  'if [ -f /etc/network/interfaces ]; then echo interfaces=yes; fi',
  'for d in /boot/firmware /boot; do if [ -f $d/config.txt ]; then echo boot=$d; break; fi; done',
  'true',
].join('; ');

/** Reads the `key=value` lines of the facts script. */
export function parseFacts(text: string): Facts {
  const tools = new Set<string>();
  const enabled = new Map<string, string>();
  const active = new Map<string, string>();
  const facts: Facts = { tools, enabled, active, networkdPresent: false, interfacesFilePresent: false, loginUser: '', sudo: false, bootDir: null };
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq < 0) continue;
    const key = line.slice(0, eq).trim();
    const value = line.slice(eq + 1).trim();
    if (key === 'user') facts.loginUser = value;
    else if (key === 'sudo') facts.sudo = value === 'yes';
    else if (key === 'tool') tools.add(value);
    else if (key === 'unit') {
      const [unit = '', state = 'absent', now = ''] = value.split(/\s+/);
      enabled.set(unit, state);
      active.set(unit, now);
    } else if (key === 'networkd') facts.networkdPresent = true;
    else if (key === 'interfaces') facts.interfacesFilePresent = true;
    else if (key === 'boot') facts.bootDir = value;
  }
  return facts;
}

/** /etc/hosts with `127.0.1.1 <hostname>` (Debian's line for the machine's own name). */
export function withHostsEntry(hosts: string, hostname: string): string {
  const lines = hosts.split('\n');
  const at = lines.findIndex((l) => /^127\.0\.1\.1\s/.test(l));
  if (at >= 0) {
    if ((lines[at] ?? '').trim().split(/\s+/).slice(1).join(' ') === hostname) return hosts;
    lines[at] = `127.0.1.1\t${hostname}`;
  } else {
    const local = lines.findIndex((l) => /^127\.0\.0\.1\s/.test(l));
    lines.splice(local + 1, 0, `127.0.1.1\t${hostname}`);
  }
  return lines.join('\n');
}

function identityJson(identity: ProvisionIdentity): string {
  // The same shape a flash's first-boot identity has (electron/flash/firstBoot.ts).
  return `${JSON.stringify({ device_id: identity.deviceId, hostname: identity.hostname, site: identity.site }, null, 2)}\n`;
}

/** The fingerprint of an OpenSSH public key line (`ssh-ed25519 AAAA… comment`). */
export function fingerprintOfKeyLine(line: string): string {
  const blob = line.trim().split(/\s+/)[1] ?? '';
  if (!/^[A-Za-z0-9+/]+={0,3}$/.test(blob)) throw new FieldkitError(appError('IO_ERROR', 'The SSH host key read over the console is not an OpenSSH key line.', 'Check /etc/ssh/ssh_host_ed25519_key.pub on the Pi; regenerate it with `sudo ssh-keygen -A`.'));
  return hostKeyFingerprint(Buffer.from(blob, 'base64'));
}

export async function provisionOverSerial(options: ProvisionOptions): Promise<ProvisionResult> {
  const began = performance.now();
  const { identity, network, user } = options;
  if (network.mode === 'wifi' && (options.wifiPsk === undefined || options.wifiPsk.length < 8)) {
    throw new FieldkitError(appError('BAD_REQUEST', `Joining "${network.ssid}" needs its passphrase.`, 'Give the Wi-Fi passphrase (8–63 characters); it is never stored or shown.', 'wifiPsk'));
  }
  const secrets = network.mode === 'wifi' && options.wifiPsk !== undefined ? [options.wifiPsk, wpaPskHex(network.ssid, options.wifiPsk)] : [];
  const cmds = createProvisionCommands(options.link, { secrets, signal: options.signal, onTranscript: options.onTranscript });
  const steps: ProvisionStep[] = [];
  const done = (name: ProvisionStepName, changed: boolean, detail: string) => {
    const step = { name, changed, detail };
    steps.push(step);
    options.onStep?.(step);
  };
  const where = options.link.describe;

  // What the Pi has, in one round trip; refusals before anything changes.
  const facts = parseFacts(await cmds.must('facts', factsScript, 'Reading what the Pi has'));
  if (!facts.sudo) {
    throw new FieldkitError(
      appError('PERMISSION_DENIED', `${facts.loginUser || 'The console user'} on ${where} has no passwordless sudo, which provisioning needs.`, `Add the line \`${facts.loginUser || 'pi'} ALL=(ALL) NOPASSWD:ALL\` to /etc/sudoers.d/010_${facts.loginUser || 'pi'}-nopasswd on the Pi (visudo -f), then provision again.`),
    );
  }
  const unitExists = (unit: string) => (facts.enabled.get(unit) ?? 'absent') !== 'absent';
  const sshUnit = unitExists('ssh') ? 'ssh' : unitExists('sshd') ? 'sshd' : null;
  if (sshUnit === null) {
    throw new FieldkitError(appError('UNAVAILABLE', `There is no SSH server on ${where} (no ssh or sshd unit).`, 'Install openssh-server on the image (it needs the network or a package copied over), or flash an image that has it, then provision again.'));
  }
  const configured = (await cmds.must('facts', `if [ -f ${agentConfigPath} ]; then sed -n 's/.*"device_id"[^"]*"\\([^"]*\\)".*/\\1/p' ${agentConfigPath} | head -n 1; fi`, 'Reading the agent\'s device id', { sudo: true })).trim();
  if (configured !== '' && configured !== identity.deviceId) {
    throw new FieldkitError(
      appError('CONFLICT', `The agent on ${where} already journals as device "${configured}", not "${identity.deviceId}". Nothing was changed.`, `Provision it as "${configured}", or — if this Pi really is to become "${identity.deviceId}" — remove ${agentConfigPath} and its journal on the Pi first (its data would otherwise carry two ids).`, 'identity.deviceId'),
    );
  }

  await hostnameStep(cmds, identity.hostname, facts, done);

  const identityChanged = await putRemoteFile(cmds, 'identity', { path: identityPath, content: identityJson(identity), mode: '644' });
  done('identity', identityChanged, `${identityPath}: device ${identity.deviceId}${identity.site ? `, site ${identity.site}` : ''}${identityChanged ? '' : ' (already so)'}`);

  await sshKeyStep(cmds, user, options.appKey.publicKey, done);
  await sshdStep(cmds, sshUnit, facts, done);

  if (network.mode === 'wifi') await wifiCountryStep(cmds, network.country, facts, done);
  if (network.mode === 'usb-gadget') await usbGadgetStep(cmds, facts, done);
  const backend = await networkStep(cmds, network, options.wifiPsk ?? null, facts, done);

  // The host key, read over the cable: what SSH must show.
  const keyLine = await cmds.must('host-key', 'cat /etc/ssh/ssh_host_ed25519_key.pub', 'Reading the SSH host key');
  const fingerprint = fingerprintOfKeyLine(keyLine);
  cmds.note('host-key', 'SHA-256 fingerprint of the host key read over the serial console', fingerprint, 0);

  const port = options.sshPort ?? (await sshdPort(cmds));
  const host = options.sshHost ?? (await addressToReach(cmds, network, options.signal));
  await confirmSsh(cmds, { host, port, user, appKey: options.appKey, fingerprint, hostname: identity.hostname, timeoutMs: options.confirmTimeoutMs ?? 30_000, signal: options.signal });
  done('confirm-ssh', false, `${user}@${host}:${String(port)} answered with fieldkit's key and host key ${fingerprint}`);

  return {
    steps,
    sshHostKey: fingerprint,
    ssh: { host, port, username: user },
    networkBackend: backendLabel[backend],
    transcript: cmds.transcript,
    durationMs: Math.round(performance.now() - began),
  };
}

type Done = (name: ProvisionStepName, changed: boolean, detail: string) => void;

async function hostnameStep(cmds: ProvisionCommands, hostname: string, facts: Facts, done: Done): Promise<void> {
  const now = await cmds.must('hostname', 'cat /etc/hostname; hostname', 'Reading the hostname');
  const [stored = '', running = ''] = now.split('\n').map((l) => l.trim());
  let changed = false;
  const q = shellQuote(hostname);
  if (stored !== hostname || running !== hostname) {
    // hostnamectl keeps systemd-hostnamed in step; without it (or D-Bus) the files do.
    const viaHostnamectl = facts.tools.has('hostnamectl') ? `hostnamectl set-hostname ${q} 2>/dev/null || ` : '';
    await cmds.must('hostname', `${viaHostnamectl}{ printf '%s\\n' ${q} > /etc/hostname && hostname ${q}; }`, 'Setting the hostname', { sudo: true });
    changed = true;
  }
  const hosts = (await readRemoteFile(cmds, 'hostname', '/etc/hosts')) ?? '127.0.0.1\tlocalhost\n';
  if (await putRemoteFile(cmds, 'hostname', { path: '/etc/hosts', content: withHostsEntry(hosts, hostname), mode: '644' })) changed = true;
  done('hostname', changed, changed ? `was ${stored || '(none)'}, now ${hostname} (/etc/hostname, /etc/hosts)` : `already ${hostname}`);
}

async function sshKeyStep(cmds: ProvisionCommands, user: string, publicKey: string, done: Done): Promise<void> {
  const u = shellQuote(user);
  const key = shellQuote(publicKey.trim());
  // Detect: the key line present, the folder 700 and the file 600, both the user's.
  const check = await cmds.run(
    'ssh-key',
    `h=$(getent passwd ${u} | cut -d: -f6); [ -n "$h" ] || { echo "no user ${user}" >&2; exit 3; }; stat -c '%a %U' "$h/.ssh" "$h/.ssh/authorized_keys" 2>/dev/null; grep -cxF ${key} "$h/.ssh/authorized_keys" 2>/dev/null || true`,
    { sudo: true },
  );
  if (check.code === 3) {
    throw new FieldkitError(appError('NOT_FOUND', `There is no user ${user} on ${cmds.link.describe}.`, 'Give the login user the image has (pi on Raspberry Pi OS), or create it first.', 'user'));
  }
  const lines = check.stdout.toString('utf8').trim().split('\n');
  const present = lines.includes(`700 ${user}`) && lines.includes(`600 ${user}`) && Number(lines.at(-1)) > 0;
  if (present) {
    done('ssh-key', false, `fieldkit's key is already in ~${user}/.ssh/authorized_keys`);
    return;
  }
  await cmds.must(
    'ssh-key',
    `set -e; h=$(getent passwd ${u} | cut -d: -f6); g=$(id -gn ${u}); install -d -m 700 -o ${u} -g "$g" "$h/.ssh"; f="$h/.ssh/authorized_keys"; touch "$f"; grep -qxF ${key} "$f" || printf '%s\\n' ${key} >> "$f"; chown ${u}:"$g" "$f"; chmod 600 "$f"`,
    'Installing fieldkit\'s SSH key',
    { sudo: true },
  );
  done('ssh-key', true, `fieldkit's key added to ~${user}/.ssh/authorized_keys (0600, ${user})`);
}

async function sshdStep(cmds: ProvisionCommands, unit: string, facts: Facts, done: Done): Promise<void> {
  const service = `${unit}.service`;
  const state = await cmds.run('sshd', `systemctl is-enabled ${service}; systemctl is-active ${service}; [ -s /etc/ssh/ssh_host_ed25519_key ] && echo has-key || echo no-key`);
  const [enabled = '', active = '', key = ''] = state.stdout.toString('utf8').trim().split('\n').map((l) => l.trim());
  if (enabled === 'enabled' && active === 'active' && key === 'has-key') {
    done('sshd', false, `${service} already enabled and running`);
    return;
  }
  const actions: string[] = [];
  if (key !== 'has-key') {
    if (!facts.tools.has('ssh-keygen')) throw new FieldkitError(appError('UNAVAILABLE', `The Pi has no SSH host key and no ssh-keygen to make one.`, 'Reinstall openssh-server on the image, then provision again.'));
    await cmds.must('sshd', 'ssh-keygen -A', 'Making the SSH host keys', { sudo: true });
    actions.push('host keys made');
  }
  await cmds.must('sshd', `systemctl enable ${service} 2>&1 && systemctl ${active === 'active' && key === 'has-key' ? 'start' : 'restart'} ${service}`, `Enabling and starting ${service}`, { sudo: true });
  if (enabled !== 'enabled') actions.push('enabled');
  if (active !== 'active') actions.push('started');
  else if (key !== 'has-key') actions.push('restarted');
  done('sshd', true, `${service} ${actions.join(', ')}`);
}

async function sshdPort(cmds: ProvisionCommands): Promise<number> {
  const out = await cmds.run('sshd', 'export PATH=$PATH:/usr/sbin:/sbin; sshd -T 2>/dev/null | grep -i "^port "', { sudo: true });
  const port = Number(/^port\s+(\d+)/im.exec(out.stdout.toString('utf8'))?.[1] ?? '22');
  return Number.isInteger(port) && port > 0 ? port : 22;
}

async function wifiCountryStep(cmds: ProvisionCommands, country: string, facts: Facts, done: Done): Promise<void> {
  const actions: string[] = [];
  if (await putRemoteFile(cmds, 'wifi-country', wifiCountryModprobe(country))) actions.push('cfg80211 regdom at boot');
  if (facts.tools.has('raspi-config')) {
    const now = (await cmds.run('wifi-country', 'raspi-config nonint get_wifi_country 2>/dev/null', { sudo: true })).stdout.toString('utf8').trim();
    if (now !== country) {
      await cmds.must('wifi-country', `raspi-config nonint do_wifi_country ${country}`, 'Setting the Wi-Fi country (raspi-config)', { sudo: true });
      actions.push('raspi-config');
    }
  }
  let runtime = '';
  if (facts.tools.has('iw')) {
    const reg = await cmds.run('wifi-country', 'iw reg get 2>/dev/null | grep -m1 "^country"', { sudo: true });
    if (!reg.stdout.toString('utf8').includes(`country ${country}:`)) {
      const set = await cmds.run('wifi-country', `iw reg set ${country}`, { sudo: true });
      if (set.code === 0) actions.push('iw reg set');
      else runtime = ' (iw reg set failed: applies at the next boot)';
    }
  } else runtime = ' (no iw: applies at the next boot)';
  if (facts.tools.has('rfkill') && actions.length > 0) await cmds.run('wifi-country', 'rfkill unblock wifi', { sudo: true });
  done('wifi-country', actions.length > 0, actions.length > 0 ? `${country}: ${actions.join(', ')}${runtime}` : `already ${country}${runtime}`);
}

async function usbGadgetStep(cmds: ProvisionCommands, facts: Facts, done: Done): Promise<void> {
  if (facts.bootDir === null) {
    done('usb-gadget', false, 'no boot partition with config.txt (/boot/firmware or /boot): dwc2 and g_ether not configured; usb0 is configured for when it appears');
    return;
  }
  const dir = facts.bootDir;
  const config = (await readRemoteFile(cmds, 'usb-gadget', `${dir}/config.txt`)) ?? '';
  const cmdline = await readRemoteFile(cmds, 'usb-gadget', `${dir}/cmdline.txt`);
  if (cmdline === null) throw new FieldkitError(appError('NOT_FOUND', `${dir}/cmdline.txt is missing on ${cmds.link.describe}.`, 'The boot partition looks incomplete: check the image, then provision again.'));
  const changedConfig = await putRemoteFile(cmds, 'usb-gadget', { path: `${dir}/config.txt`, content: withDwc2Overlay(config), mode: '755', fat: true });
  const changedCmdline = await putRemoteFile(cmds, 'usb-gadget', { path: `${dir}/cmdline.txt`, content: withGadgetModules(cmdline), mode: '755', fat: true });
  const changed = changedConfig || changedCmdline;
  done('usb-gadget', changed, changed ? `dtoverlay=dwc2 and modules-load=dwc2,g_ether set in ${dir}: usb0 appears after a reboot` : `already set in ${dir}`);
}

async function networkStep(cmds: ProvisionCommands, network: ProvisionNetwork, psk: string | null, facts: Facts, done: Done): Promise<ReturnType<typeof chooseNetworkBackend>> {
  const backend = chooseNetworkBackend(facts);
  const dhcpcdConf = backend === 'dhcpcd' ? await readRemoteFile(cmds, 'network', '/etc/dhcpcd.conf') : null;
  const plan = planNetwork({ network, psk }, backend, { tools: facts.tools, dhcpcdConf });
  const written: string[] = [];
  for (const file of plan.files) if (await putRemoteFile(cmds, 'network', file)) written.push(file.path);
  if (backend === 'ifupdown') {
    const interfaces = facts.interfacesFilePresent ? await readRemoteFile(cmds, 'network', '/etc/network/interfaces') : null;
    if (await putRemoteFile(cmds, 'network', { path: '/etc/network/interfaces', content: withInterfacesSource(interfaces), mode: '644' })) written.push('/etc/network/interfaces');
  }
  const enabled: string[] = [];
  for (const unit of plan.enable) {
    const state = (await cmds.run('network', `systemctl is-enabled ${unit}`)).stdout.toString('utf8').trim();
    if (state !== 'enabled') {
      await cmds.must('network', `systemctl enable ${unit} 2>&1`, `Enabling ${unit}`, { sudo: true });
      enabled.push(unit);
    }
  }
  let applied = '';
  if (written.length > 0 || enabled.length > 0) {
    // Applying can fail where the interface is absent (no Wi-Fi chip, gadget not yet
    // loaded): the files are in place for the next boot, and the step says so.
    const failures: string[] = [];
    for (const command of plan.apply) {
      const result = await cmds.run('network', command, { sudo: true, timeoutMs: 60_000 });
      if (result.code !== 0) failures.push(`\`${command}\` exited ${String(result.code)}`);
    }
    applied = failures.length === 0 ? '; applied' : `; not applied now (${failures.join('; ')}): takes effect when ${interfaceOf(network)} is present or at the next boot`;
  }
  const changed = written.length > 0 || enabled.length > 0;
  done('network', changed, `${describeNetwork(network)} with ${backendLabel[backend]}: ${changed ? `wrote ${written.join(', ') || 'nothing'}${enabled.length > 0 ? `, enabled ${enabled.join(', ')}` : ''}${applied}` : 'already so'}`);
  return backend;
}

/** The address the laptop can reach the Pi at: the static one, else what the interface got. */
async function addressToReach(cmds: ProvisionCommands, network: ProvisionNetwork, signal: AbortSignal | undefined): Promise<string> {
  if (network.mode === 'static' || (network.mode === 'usb-gadget' && network.address !== undefined)) return (network.address ?? '').split('/')[0] ?? '';
  const iface = interfaceOf(network);
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (signal?.aborted === true) throw cancelled(cmds.link);
    const out = (await cmds.run('confirm-ssh', `ip -4 -o addr show dev ${iface} 2>/dev/null`)).stdout.toString('utf8');
    const address = /inet (\d+\.\d+\.\d+\.\d+)\//.exec(out)?.[1];
    if (address !== undefined) return address;
    await new Promise((resolve) => setTimeout(resolve, 2000));
  }
  throw new FieldkitError(
    appError('UNAVAILABLE', `${iface} on ${cmds.link.describe} has no IPv4 address after 30 s; SSH could not be confirmed. The configuration is in place.`, `Check the ${network.mode === 'wifi' ? 'Wi-Fi name, passphrase and country' : 'cable and the DHCP server'}, or give the Pi's address to confirm at (SSH host), then provision again (nothing is redone).`),
  );
}

async function confirmSsh(
  cmds: ProvisionCommands,
  target: { host: string; port: number; user: string; appKey: AppSshKey; fingerprint: string; hostname: string; timeoutMs: number; signal: AbortSignal | undefined },
): Promise<void> {
  const where = `${target.user}@${target.host}:${String(target.port)}`;
  const description = `ssh ${where} with fieldkit's key, host key pinned to ${target.fingerprint} (read over the serial console); run \`hostname\``;
  const began = performance.now();
  const deadline = Date.now() + target.timeoutMs;
  let lastError: FieldkitError | null = null;
  let attempts = 0;
  while (Date.now() < deadline || attempts === 0) {
    if (target.signal?.aborted === true) throw cancelled(cmds.link);
    attempts++;
    try {
      const ssh = await connectSsh({ target: { host: target.host, port: target.port, username: target.user }, appKey: target.appKey, hostKey: { pinned: target.fingerprint }, timeoutMs: 10_000 });
      try {
        const result = await ssh.exec('hostname', { timeoutMs: 10_000 });
        const seen = result.stdout.toString('utf8').trim();
        cmds.note('confirm-ssh', description, `attempt ${String(attempts)}: connected (host key ${ssh.hostKeyFingerprint}, authenticated with ${ssh.authenticatedWith}); hostname: ${seen}`, performance.now() - began, result.code);
        if (seen !== target.hostname) {
          throw new FieldkitError(appError('CONFLICT', `${where} says it is ${seen}, not ${target.hostname}: the SSH address reaches another machine.`, 'Check the address and port given for SSH; they must reach the Pi on this serial cable.'));
        }
        return;
      } finally {
        await ssh.close();
      }
    } catch (error) {
      if (!isFieldkitError(error)) throw error;
      const code = error.appError.code;
      // A different key or another machine will not get better by waiting.
      if (code === 'HOST_KEY_CHANGED' || code === 'CONFLICT') {
        cmds.note('confirm-ssh', description, error.appError.message, performance.now() - began, 1);
        if (code === 'CONFLICT') throw error;
        throw new FieldkitError(
          appError('HOST_KEY_CHANGED', `${where} shows a host key that is not the one read over the serial cable (${target.fingerprint}). fieldkit did not log in.`, 'The SSH address reaches another machine (or something in between): check the address and port; the Pi on the cable is the one to trust.'),
        );
      }
      lastError = error;
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }
  cmds.note('confirm-ssh', description, `${String(attempts)} attempts: ${lastError?.appError.message ?? 'no answer'}`, performance.now() - began, 1);
  throw new FieldkitError(
    appError('UNAVAILABLE', `The Pi did not answer over SSH at ${where} within ${String(Math.round(target.timeoutMs / 1000))} s: ${lastError?.appError.message ?? 'no answer'}`, lastError?.appError.hint ?? 'Check the address and that the laptop is on the same network, then provision again (nothing is redone).'),
  );
}
