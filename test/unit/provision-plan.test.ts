/**
 * The pure parts of provisioning over serial: which network stack is chosen, what each
 * writes for each mode, the boot-partition edits for USB gadget Ethernet, /etc/hosts, and
 * the request schema. Reruns must produce identical files (that is what makes steps idempotent).
 */
import { pbkdf2Sync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { withDwc2Overlay, withGadgetModules } from '../../electron/provision/bootConfig.ts';
import { chooseNetworkBackend, planNetwork, withDhcpcdBlock, withInterfacesSource, wpaPskHex, type NetworkFacts } from '../../electron/provision/networkPlan.ts';
import { createProvisionCommands } from '../../electron/provision/provisionCommands.ts';
import { fingerprintOfKeyLine, parseFacts, withHostsEntry } from '../../electron/provision/provisionOverSerial.ts';
import { createLocalLink } from '../../electron/kernel/link/localLink.ts';
import { ProvisionNetworkSchema, ProvisionRequestSchema, type ProvisionNetwork } from '../../shared/provision.ts';

function facts(partial: { tools?: string[]; enabled?: Record<string, string>; active?: Record<string, string>; networkd?: boolean; interfaces?: boolean }): NetworkFacts {
  return {
    tools: new Set(partial.tools ?? []),
    enabled: new Map(Object.entries(partial.enabled ?? {})),
    active: new Map(Object.entries(partial.active ?? {})),
    networkdPresent: partial.networkd ?? false,
    interfacesFilePresent: partial.interfaces ?? false,
  };
}

const net = (input: unknown): ProvisionNetwork => ProvisionNetworkSchema.parse(input);

describe('choosing the network stack', () => {
  it('prefers what runs now: NetworkManager, dhcpcd, ifupdown in use; then systemd-networkd if present', () => {
    expect(chooseNetworkBackend(facts({ tools: ['nmcli'], enabled: { NetworkManager: 'enabled' }, networkd: true }))).toBe('networkmanager');
    expect(chooseNetworkBackend(facts({ tools: ['nmcli'], enabled: { NetworkManager: 'disabled', dhcpcd: 'enabled' }, networkd: true }))).toBe('dhcpcd');
    expect(chooseNetworkBackend(facts({ enabled: { networking: 'enabled' }, interfaces: true, networkd: true }))).toBe('ifupdown');
    expect(chooseNetworkBackend(facts({ enabled: { networking: 'absent' }, networkd: true }))).toBe('systemd-networkd');
    expect(chooseNetworkBackend(facts({}))).toBe('ifupdown');
  });

  it('reads the facts script output', () => {
    const f = parseFacts('user=pi\nsudo=yes\ntool=nmcli\ntool=iw\nunit=NetworkManager enabled active\nunit=dhcpcd absent inactive\nnetworkd=yes\nboot=/boot/firmware\n');
    expect(f).toMatchObject({ loginUser: 'pi', sudo: true, networkdPresent: true, interfacesFilePresent: false, bootDir: '/boot/firmware' });
    expect([...f.tools]).toEqual(['nmcli', 'iw']);
    expect(f.enabled.get('NetworkManager')).toBe('enabled');
    expect(f.enabled.get('dhcpcd')).toBe('absent');
  });
});

describe('network files', () => {
  const tools = new Set<string>(['wpa_supplicant']);

  it('NetworkManager: one keyfile per interface, 0600, the same bytes on every run', () => {
    const plan = planNetwork({ network: net({ mode: 'static', address: '10.0.0.7/24', gateway: '10.0.0.1', dns: ['1.1.1.1'] }), psk: null }, 'networkmanager', { tools, dhcpcdConf: null });
    const again = planNetwork({ network: net({ mode: 'static', address: '10.0.0.7/24', gateway: '10.0.0.1', dns: ['1.1.1.1'] }), psk: null }, 'networkmanager', { tools, dhcpcdConf: null });
    expect(plan.files).toEqual(again.files);
    expect(plan.files[0]).toMatchObject({ path: '/etc/NetworkManager/system-connections/fieldkit-eth0.nmconnection', mode: '600' });
    expect(plan.files[0]?.content).toContain('interface-name=eth0\n');
    expect(plan.files[0]?.content).toContain('[ipv4]\nmethod=manual\naddress1=10.0.0.7/24,10.0.0.1\ndns=1.1.1.1;\n');
    expect(plan.apply).toEqual(['nmcli connection reload && nmcli connection up id fieldkit-eth0']);
  });

  it('Wi-Fi: the derived key (never the passphrase), the SSID in hex, the country; secret files are 0600', () => {
    const wifi = net({ mode: 'wifi', ssid: "Bob's \"AP\"", country: 'gb' });
    expect(wifi).toMatchObject({ interface: 'wlan0', country: 'GB' });
    const networkd = planNetwork({ network: wifi, psk: 'passphrase-1' }, 'systemd-networkd', { tools, dhcpcdConf: null });
    const wpa = networkd.files.find((f) => f.path === '/etc/wpa_supplicant/wpa_supplicant-wlan0.conf');
    expect(wpa).toMatchObject({ mode: '600', secret: true });
    expect(wpa?.content).toContain('country=GB\n');
    expect(wpa?.content).toContain(`ssid=${Buffer.from("Bob's \"AP\"").toString('hex')}\n`);
    expect(wpa?.content).not.toContain('passphrase-1');
    expect(networkd.enable).toEqual(['systemd-networkd.service', 'wpa_supplicant@wlan0.service']);
    const nm = planNetwork({ network: wifi, psk: 'passphrase-1' }, 'networkmanager', { tools, dhcpcdConf: null });
    expect(nm.files[0]).toMatchObject({ mode: '600', secret: true });
    expect(nm.files[0]?.content).toContain(`[wifi-security]\nkey-mgmt=wpa-psk\npsk=${wpaPskHex("Bob's \"AP\"", 'passphrase-1')}\n`);
  });

  it('derives the WPA key as wpa_passphrase does (IEEE 802.11i test vector)', () => {
    expect(wpaPskHex('IEEE', 'password')).toBe('f42c6fc52df0ebef9ebb4b90b38a5f902e83fe1b135a70e23aed762e9710a12e');
    expect(wpaPskHex('IEEE', 'password')).toBe(pbkdf2Sync('password', 'IEEE', 4096, 32, 'sha1').toString('hex'));
  });

  it('dhcpcd: fieldkit\'s block for the interface replaces itself; DHCP removes it; other lines stay', () => {
    const base = 'hostname\nclientid\n# a comment\n';
    const once = withDhcpcdBlock(base, net({ mode: 'static', address: '192.168.5.9/24', gateway: '192.168.5.1' }));
    expect(once).toBe('hostname\nclientid\n# a comment\n\n# fieldkit begin eth0\ninterface eth0\nstatic ip_address=192.168.5.9/24\nstatic routers=192.168.5.1\n# fieldkit end eth0\n');
    expect(withDhcpcdBlock(once, net({ mode: 'static', address: '192.168.5.9/24', gateway: '192.168.5.1' }))).toBe(once);
    expect(withDhcpcdBlock(once, net({ mode: 'dhcp' }))).toBe(base);
  });

  it('ifupdown: a stanza in interfaces.d, and interfaces made to include it', () => {
    const plan = planNetwork({ network: net({ mode: 'usb-gadget', address: '10.55.0.1/24' }), psk: null }, 'ifupdown', { tools, dhcpcdConf: null });
    expect(plan.files[0]).toMatchObject({ path: '/etc/network/interfaces.d/fieldkit-usb0', content: expect.stringContaining('allow-hotplug usb0\niface usb0 inet static\n    address 10.55.0.1/24\n') as unknown });
    expect(withInterfacesSource(null)).toContain('source /etc/network/interfaces.d/*\n');
    expect(withInterfacesSource('auto lo\niface lo inet loopback')).toBe('auto lo\niface lo inet loopback\nsource /etc/network/interfaces.d/*\n');
    const included = 'source /etc/network/interfaces.d/*\nauto lo\n';
    expect(withInterfacesSource(included)).toBe(included);
  });

  it('USB gadget without an address: IPv4 link-local', () => {
    const plan = planNetwork({ network: net({ mode: 'usb-gadget' }), psk: null }, 'systemd-networkd', { tools, dhcpcdConf: null });
    expect(plan.files[0]?.content).toContain('[Match]\nName=usb0\n\n[Network]\nLinkLocalAddressing=ipv4\n');
  });
});

describe('USB gadget boot settings', () => {
  it('adds dtoverlay=dwc2 once, under [all]', () => {
    const config = 'arm_64bit=1\n[cm4]\notg_mode=1\n';
    const once = withDwc2Overlay(config);
    expect(once).toBe('arm_64bit=1\n[cm4]\notg_mode=1\n\n[all]\n# Added by fieldkit: USB gadget Ethernet (usb0)\ndtoverlay=dwc2\n');
    expect(withDwc2Overlay(once)).toBe(once);
    expect(withDwc2Overlay('dtoverlay=dwc2,dr_mode=peripheral\n')).toBe('dtoverlay=dwc2,dr_mode=peripheral\n');
  });

  it('puts modules-load=dwc2,g_ether after rootwait, merging an existing modules-load', () => {
    const cmdline = 'console=serial0,115200 root=PARTUUID=1-02 rootfstype=ext4 fsck.repair=yes rootwait quiet\n';
    const once = withGadgetModules(cmdline);
    expect(once).toBe('console=serial0,115200 root=PARTUUID=1-02 rootfstype=ext4 fsck.repair=yes rootwait modules-load=dwc2,g_ether quiet\n');
    expect(withGadgetModules(once)).toBe(once);
    expect(withGadgetModules('root=/dev/mmcblk0p2 modules-load=i2c-dev rootwait\n')).toBe('root=/dev/mmcblk0p2 modules-load=i2c-dev,dwc2,g_ether rootwait\n');
  });
});

describe('identity and keys', () => {
  it('sets the 127.0.1.1 line of /etc/hosts, once', () => {
    const hosts = '127.0.0.1\tlocalhost\n127.0.1.1\traspberrypi\n::1\tlocalhost\n';
    const once = withHostsEntry(hosts, 'yard-017');
    expect(once).toBe('127.0.0.1\tlocalhost\n127.0.1.1\tyard-017\n::1\tlocalhost\n');
    expect(withHostsEntry(once, 'yard-017')).toBe(once);
    expect(withHostsEntry('127.0.0.1 localhost\n', 'a')).toBe('127.0.0.1 localhost\n127.0.1.1\ta\n');
  });

  it('fingerprints a host key line as OpenSSH does', () => {
    // What `ssh-keygen -lf` prints for this key.
    expect(fingerprintOfKeyLine('ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJdD7y3aLq454yWBdwLWbieU1ebz9/cu7/QEXn9OIeZJ root@pi')).toBe('SHA256:T7SvZ2cslqpPj6nKzitCBHHlpVF3r3MvLwmFL0fk0IE');
    expect(() => fingerprintOfKeyLine('garbage')).toThrow(/not an OpenSSH key line/);
  });

  it('blanks a secret out of commands and output, also base64-encoded', () => {
    const cmds = createProvisionCommands(createLocalLink(), { secrets: ['hunter2-hunter2'] });
    expect(cmds.redact(`psk=hunter2-hunter2 b64=${Buffer.from('hunter2-hunter2').toString('base64').replace(/=+$/, '')}`)).toBe('psk=•••••• b64=••••••');
  });

  it('the request: Wi-Fi country upper-cased, a bad address named by its field', () => {
    const ok = ProvisionRequestSchema.parse({ id: 'dev_abcdef12', identity: { hostname: 'pi-1', deviceId: 'pi-1' }, network: { mode: 'wifi', ssid: 'Yard', country: 'de' }, wifiPsk: '12345678' });
    expect(ok.network).toEqual({ mode: 'wifi', interface: 'wlan0', ssid: 'Yard', country: 'DE' });
    const bad = ProvisionRequestSchema.safeParse({ id: 'dev_abcdef12', identity: { hostname: 'pi-1', deviceId: 'pi-1' }, network: { mode: 'static', address: '10.0.0.300/24' } });
    expect(bad.success).toBe(false);
    expect(bad.error?.issues[0]?.path).toEqual(['network', 'address']);
  });
});
