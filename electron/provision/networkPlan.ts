/**
 * What to write for the network a technician chose, for whichever network stack the Pi
 * runs: NetworkManager (Raspberry Pi OS bookworm), dhcpcd (bullseye and older),
 * systemd-networkd, or ifupdown. Pure: the same request and stack always give the same
 * files, so a second run finds nothing to change. Applying (reloading the stack) is
 * separate and may fail harmlessly where an interface does not exist (a virtual Pi).
 */
import { createHash, pbkdf2Sync } from 'node:crypto';
import type { ProvisionNetwork } from '../../shared/provision.ts';
import type { RemoteFile } from './remoteFiles.ts';

export type NetworkBackend = 'networkmanager' | 'dhcpcd' | 'systemd-networkd' | 'ifupdown';

/** What the Pi has, as far as choosing a network stack goes. */
export type NetworkFacts = {
  tools: ReadonlySet<string>;
  /** unit name → its `systemctl is-enabled` state ('absent' when there is no such unit). */
  enabled: ReadonlyMap<string, string>;
  active: ReadonlyMap<string, string>;
  networkdPresent: boolean;
  interfacesFilePresent: boolean;
};

const inUse = (facts: NetworkFacts, unit: string): boolean => facts.enabled.get(unit) === 'enabled' || facts.active.get(unit) === 'active';

/** The stack that owns the network now; systemd-networkd when nothing else does and it is there. */
export function chooseNetworkBackend(facts: NetworkFacts): NetworkBackend {
  if (facts.tools.has('nmcli') && inUse(facts, 'NetworkManager')) return 'networkmanager';
  if (inUse(facts, 'dhcpcd')) return 'dhcpcd';
  if (facts.interfacesFilePresent && inUse(facts, 'networking')) return 'ifupdown';
  if (facts.networkdPresent) return 'systemd-networkd';
  if (facts.tools.has('nmcli')) return 'networkmanager';
  return 'ifupdown';
}

export const backendLabel: Record<NetworkBackend, string> = {
  networkmanager: 'NetworkManager',
  dhcpcd: 'dhcpcd',
  'systemd-networkd': 'systemd-networkd',
  ifupdown: 'ifupdown (/etc/network/interfaces)',
};

export type NetworkRequest = { network: ProvisionNetwork; psk: string | null };

/** The interface a network mode configures. */
export function interfaceOf(network: ProvisionNetwork): string {
  return network.mode === 'usb-gadget' ? 'usb0' : network.interface;
}

/** One line for people: `eth0: static 10.0.0.7/24 via 10.0.0.1`. */
export function describeNetwork(network: ProvisionNetwork): string {
  switch (network.mode) {
    case 'dhcp':
      return `${network.interface}: DHCP`;
    case 'static':
      return `${network.interface}: static ${network.address}${network.gateway ? ` via ${network.gateway}` : ''}${network.dns.length > 0 ? `, DNS ${network.dns.join(' ')}` : ''}`;
    case 'wifi':
      return `${network.interface}: Wi-Fi "${network.ssid}" (${network.country}), DHCP`;
    case 'usb-gadget':
      return `usb0 (USB gadget Ethernet): ${network.address ?? 'IPv4 link-local'}`;
  }
}

/**
 * The WPA pre-shared key as wpa_supplicant derives it from the passphrase
 * (PBKDF2-HMAC-SHA1, the SSID as salt, 4096 rounds): written instead of the passphrase,
 * so no quoting of odd characters can go wrong. Just as secret as the passphrase.
 */
export function wpaPskHex(ssid: string, passphrase: string): string {
  return pbkdf2Sync(passphrase, Buffer.from(ssid, 'utf8'), 4096, 32, 'sha1').toString('hex');
}

/** A UUID fixed by the interface, so NetworkManager's keyfile is byte-identical on every run. */
function stableUuid(seed: string): string {
  const h = createHash('sha256').update(`fieldkit:${seed}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

const header = (network: ProvisionNetwork, comment: string): string => `${comment} Written by fieldkit (provisioning over serial): ${describeNetwork(network)}\n`;

function wpaSupplicantConf(network: Extract<ProvisionNetwork, { mode: 'wifi' }>, psk: string): string {
  return [
    header(network, '#').trimEnd(),
    'ctrl_interface=DIR=/run/wpa_supplicant GROUP=netdev',
    'update_config=1',
    `country=${network.country}`,
    '',
    'network={',
    `\tssid=${Buffer.from(network.ssid, 'utf8').toString('hex')}`,
    `\tpsk=${wpaPskHex(network.ssid, psk)}`,
    '\tkey_mgmt=WPA-PSK',
    '}',
    '',
  ].join('\n');
}

function nmKeyfile(network: ProvisionNetwork, psk: string | null): string {
  const iface = interfaceOf(network);
  const lines = [header(network, '#').trimEnd(), '[connection]', `id=fieldkit-${iface}`, `uuid=${stableUuid(iface)}`, `type=${network.mode === 'wifi' ? 'wifi' : 'ethernet'}`, `interface-name=${iface}`, 'autoconnect=true', 'autoconnect-priority=50', ''];
  if (network.mode === 'wifi') {
    lines.push('[wifi]', 'mode=infrastructure', `ssid=${network.ssid}`, '', '[wifi-security]', 'key-mgmt=wpa-psk', `psk=${wpaPskHex(network.ssid, psk ?? '')}`, '');
  }
  lines.push('[ipv4]');
  if (network.mode === 'static') {
    lines.push('method=manual', `address1=${network.address}${network.gateway ? `,${network.gateway}` : ''}`);
    if (network.dns.length > 0) lines.push(`dns=${network.dns.join(';')};`);
  } else if (network.mode === 'usb-gadget') {
    lines.push(network.address ? 'method=manual' : 'method=link-local', ...(network.address ? [`address1=${network.address}`] : []));
  } else {
    lines.push('method=auto');
  }
  lines.push('', '[ipv6]', network.mode === 'usb-gadget' ? 'method=link-local' : 'method=auto', '');
  return lines.join('\n');
}

function networkdUnit(network: ProvisionNetwork): string {
  const lines = [header(network, '#').trimEnd(), '[Match]', `Name=${interfaceOf(network)}`, '', '[Network]'];
  if (network.mode === 'static') {
    lines.push(`Address=${network.address}`, ...(network.gateway ? [`Gateway=${network.gateway}`] : []), ...network.dns.map((d) => `DNS=${d}`));
  } else if (network.mode === 'usb-gadget') {
    lines.push(...(network.address ? [`Address=${network.address}`] : ['LinkLocalAddressing=ipv4']));
  } else {
    lines.push('DHCP=yes');
  }
  return `${lines.join('\n')}\n`;
}

function ifupdownStanza(network: ProvisionNetwork, wpaConf: string): string {
  const iface = interfaceOf(network);
  const lines = [header(network, '#').trimEnd(), `${network.mode === 'dhcp' || network.mode === 'static' ? 'auto' : 'allow-hotplug'} ${iface}`];
  if (network.mode === 'static') {
    lines.push(`iface ${iface} inet static`, `    address ${network.address}`, ...(network.gateway ? [`    gateway ${network.gateway}`] : []), ...(network.dns.length > 0 ? [`    dns-nameservers ${network.dns.join(' ')}`] : []));
  } else if (network.mode === 'usb-gadget') {
    lines.push(network.address ? `iface usb0 inet static\n    address ${network.address}` : 'iface usb0 inet ipv4ll');
  } else {
    lines.push(`iface ${iface} inet dhcp`, ...(network.mode === 'wifi' ? [`    wpa-conf ${wpaConf}`] : []));
  }
  return `${lines.join('\n')}\n`;
}

/** dhcpcd.conf with fieldkit's block for this interface replaced (or removed: DHCP is dhcpcd's default). */
export function withDhcpcdBlock(current: string, network: ProvisionNetwork): string {
  const iface = interfaceOf(network);
  const begin = `# fieldkit begin ${iface}`;
  const end = `# fieldkit end ${iface}`;
  const lines = current.split('\n');
  const kept: string[] = [];
  let inside = false;
  for (const line of lines) {
    if (line.trim() === begin) inside = true;
    else if (line.trim() === end) inside = false;
    else if (!inside) kept.push(line);
  }
  while (kept.length > 0 && kept[kept.length - 1] === '') kept.pop();
  const block: string[] = [];
  if (network.mode === 'static') {
    block.push(`interface ${iface}`, `static ip_address=${network.address}`, ...(network.gateway ? [`static routers=${network.gateway}`] : []), ...(network.dns.length > 0 ? [`static domain_name_servers=${network.dns.join(' ')}`] : []));
  } else if (network.mode === 'usb-gadget' && network.address) {
    block.push('interface usb0', `static ip_address=${network.address}`);
  }
  const body = kept.join('\n');
  return block.length === 0 ? `${body}\n` : `${body}${body === '' ? '' : '\n\n'}${begin}\n${block.join('\n')}\n${end}\n`;
}

export type NetworkPlan = {
  backend: NetworkBackend;
  /** Written (only when different); `secret` files are 0600 and never read back into a transcript. */
  files: (RemoteFile & { secret: boolean })[];
  /** Units that must be enabled for the configuration to take effect at boot. */
  enable: string[];
  /** Root commands that apply a changed configuration now; their failure is reported, not fatal. */
  apply: string[];
};

/**
 * The plan for `request` on `backend`. `dhcpcdConf` is /etc/dhcpcd.conf as it is now
 * (dhcpcd keeps every interface in that one file).
 */
export function planNetwork(request: NetworkRequest, backend: NetworkBackend, facts: { tools: ReadonlySet<string>; dhcpcdConf: string | null }): NetworkPlan {
  const { network } = request;
  const iface = interfaceOf(network);
  const psk = request.psk ?? '';
  const files: NetworkPlan['files'] = [];
  const enable: string[] = [];
  const apply: string[] = [];
  const wifi = network.mode === 'wifi' ? network : null;
  switch (backend) {
    case 'networkmanager': {
      const id = `fieldkit-${iface}`;
      files.push({ path: `/etc/NetworkManager/system-connections/${id}.nmconnection`, content: nmKeyfile(network, request.psk), mode: '600', secret: wifi !== null });
      apply.push(`nmcli connection reload && nmcli connection up id ${id}`);
      break;
    }
    case 'systemd-networkd': {
      files.push({ path: `/etc/systemd/network/10-fieldkit-${iface}.network`, content: networkdUnit(network), mode: '644', secret: false });
      enable.push('systemd-networkd.service');
      if (wifi) {
        files.push({ path: `/etc/wpa_supplicant/wpa_supplicant-${iface}.conf`, content: wpaSupplicantConf(wifi, psk), mode: '600', secret: true });
        if (facts.tools.has('wpa_supplicant')) enable.push(`wpa_supplicant@${iface}.service`);
      }
      // Restarted but skipped (no CAP_NET_ADMIN in a container) is not applied: ask is-active.
      apply.push('systemctl restart systemd-networkd.service && systemctl is-active --quiet systemd-networkd.service');
      if (wifi && facts.tools.has('wpa_supplicant')) apply.push(`systemctl restart wpa_supplicant@${iface}.service`);
      break;
    }
    case 'dhcpcd': {
      files.push({ path: '/etc/dhcpcd.conf', content: withDhcpcdBlock(facts.dhcpcdConf ?? '', network), mode: '644', secret: false });
      if (wifi) files.push({ path: '/etc/wpa_supplicant/wpa_supplicant.conf', content: wpaSupplicantConf(wifi, psk), mode: '600', secret: true });
      apply.push(wifi ? `wpa_cli -i ${iface} reconfigure; dhcpcd -n ${iface}` : `dhcpcd -n ${iface}`);
      break;
    }
    case 'ifupdown': {
      const wpaConf = `/etc/wpa_supplicant/wpa_supplicant-${iface}.conf`;
      files.push({ path: `/etc/network/interfaces.d/fieldkit-${iface}`, content: ifupdownStanza(network, wpaConf), mode: '644', secret: false });
      if (wifi) files.push({ path: wpaConf, content: wpaSupplicantConf(wifi, psk), mode: '600', secret: true });
      apply.push(`ifdown ${iface} 2>/dev/null; ifup ${iface}`);
      break;
    }
  }
  return { backend, files, enable, apply };
}

/** The regulatory domain for cfg80211 at boot, whatever stack runs Wi-Fi. */
export function wifiCountryModprobe(country: string): RemoteFile {
  return { path: '/etc/modprobe.d/fieldkit-wifi-country.conf', content: `# Written by fieldkit: the Wi-Fi regulatory country (channels and power allowed there).\noptions cfg80211 ieee80211_regdom=${country}\n`, mode: '644' };
}

/** /etc/network/interfaces that includes interfaces.d (Debian's default does; an old one may not). */
export function withInterfacesSource(current: string | null): string {
  if (current === null) return 'source /etc/network/interfaces.d/*\n\nauto lo\niface lo inet loopback\n';
  if (/^\s*source(-directory)?\s+\/etc\/network\/interfaces\.d/m.test(current)) return current;
  return `${current.endsWith('\n') || current === '' ? current : `${current}\n`}source /etc/network/interfaces.d/*\n`;
}
