/** `fieldkit devices …`: register, trust, connect and discover devices. */
import { readFileSync } from 'node:fs';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { DiscoveryResultSchema } from '../../../shared/api.ts';
import type { Device, LinkSpec } from '../../../shared/devices.ts';
import { appError, FieldkitError } from '../../../shared/errors.ts';
import { parseSshAddress as parseAddress } from '../../../shared/sshAddress.ts';
import { describeLink } from '../deviceStore.ts';
import { contractNumber } from '../../kernel/cli/cliArguments.ts';
import type { CliContext } from '../../kernel/cli/cliContext.ts';
import { deviceFor } from './resolveDevice.ts';
import { exitCodes } from '../../kernel/cli/cliIo.ts';
import { formatTable } from '../../kernel/cli/formatTable.ts';
import { followJob } from '../../kernel/cli/jobProgress.ts';

const deviceColumns = [
  { header: 'ID', value: (d: Device) => d.id },
  { header: 'NAME', value: (d: Device) => d.name },
  { header: 'SITE', value: (d: Device) => d.site },
  { header: 'LINK', value: (d: Device) => (d.link.kind === 'local' ? 'local' : `${d.link.kind} ${describeLink(d.link)}`) },
  { header: 'AGENT', value: (d: Device) => d.agentVersion ?? '—' },
  { header: 'LAST SEEN', value: (d: Device) => (d.lastSeenMs === null ? 'never' : new Date(d.lastSeenMs).toISOString().replace('T', ' ').slice(0, 19)) },
  { header: 'STATUS', value: (d: Device) => d.lastError ?? (d.link.kind === 'ssh' && d.hostKeyFingerprint === null ? 'host key not accepted yet' : 'ok') },
];

/** `pi@10.0.0.7:2222`, `pi@[fe80::1]:22` → an SSH link spec; a wrong address is refused saying which part is wrong. */
export function parseSshAddress(text: string): LinkSpec {
  const parsed = parseAddress(text);
  if (!parsed.ok) throw new InvalidArgumentError(`${parsed.message}. Expected [user@]host[:port], such as pi@10.0.0.7 or pi@[fe80::1]:22.`);
  const { username, host, port } = parsed.address;
  return { kind: 'ssh', host, port: port ?? 22, username: username ?? 'pi', agentPrefix: '/opt/fieldkit-agent' };
}

function readPasswordFromStdin(): string {
  const text = readFileSync(0, 'utf8');
  return text.replace(/\r?\n$/, '');
}

export function addDeviceCommands(program: Command, ctx: CliContext): void {
  const devices = program.command('devices').description('devices: register, trust host keys, connect, discover');
  addRegistryCommands(devices, ctx);
  addHostKeyCommands(devices, ctx);
  addConnectCommand(devices, ctx);
  addDiscoverCommand(devices, ctx);
}

/** `devices list|add|update|remove`: the devices this laptop knows. */
function addRegistryCommands(devices: Command, ctx: CliContext): void {
  devices
    .command('list', { isDefault: true })
    .description('list registered devices')
    .action(async () => {
      const { devices: list } = await ctx.call('devices.list', {});
      ctx.print({ devices: list }, () => (list.length === 0 ? 'No devices yet. Add one with `fieldkit devices add --ssh pi@<address>` or find them with `fieldkit devices discover`.' : formatTable(list, deviceColumns)));
    });

  devices
    .command('add')
    .description('register a device: --ssh [user@]host[:port], --serial <port> or --local <agent command>')
    .option('--ssh <address>', 'reach it over SSH', parseSshAddress)
    .option('--serial <path>', 'reach it over a serial console (such as /dev/ttyUSB0)')
    .option('--user <name>', 'serial console login user', 'pi')
    .option('--local <command>', 'run its agent on this computer (demo, tests)')
    .option('--agent-prefix <path>', 'where the agent is installed on the device', '/opt/fieldkit-agent')
    .option('--name <name>', 'a name for people (pi-07)')
    .option('--site <site>', 'where it is')
    .action(async (opts: { ssh?: LinkSpec; serial?: string; user: string; local?: string; agentPrefix: string; name?: string; site?: string }) => {
      const chosen = [opts.ssh, opts.serial, opts.local].filter((x) => x !== undefined);
      if (chosen.length !== 1) {
        throw new FieldkitError(appError('BAD_REQUEST', 'Say how to reach the device: exactly one of --ssh, --serial or --local.', 'For example: fieldkit devices add --ssh pi@10.0.0.7 --name pi-07'));
      }
      const ssh = opts.ssh?.kind === 'ssh' ? { ...opts.ssh, agentPrefix: opts.agentPrefix } : undefined;
      const link: LinkSpec = ssh ?? (opts.serial !== undefined ? { kind: 'serial', path: opts.serial, baudRate: 115200, username: opts.user, agentPrefix: opts.agentPrefix } : { kind: 'local', agentCommand: opts.local ?? '' });
      const { device } = await ctx.call('devices.add', { link, ...(opts.name ? { name: opts.name } : {}), ...(opts.site ? { site: opts.site } : {}) });
      ctx.print({ device }, () => `Added ${device.name} (${device.id}).${device.link.kind === 'ssh' ? `\nNext: fieldkit devices scan-key ${device.id}` : ''}`);
    });

  devices
    .command('update <device>')
    .description('rename a device or move it to another site (the device by name or id)')
    .option('--name <name>')
    .option('--site <site>')
    .action(async (wanted: string, opts: { name?: string; site?: string }) => {
      const { id } = await deviceFor(ctx, wanted);
      const { device } = await ctx.call('devices.update', { id, ...(opts.name ? { name: opts.name } : {}), ...(opts.site !== undefined ? { site: opts.site } : {}) });
      ctx.print({ device }, () => `${device.id}: ${device.name} at ${device.site || '(no site)'}`);
    });

  devices
    .command('remove <device>')
    .description('forget a device (journals already pulled stay on this laptop); the device by name or id')
    .action(async (wanted: string) => {
      const device = await deviceFor(ctx, wanted);
      const result = await ctx.call('devices.remove', { id: device.id });
      ctx.print(result, () => `Removed ${device.name} (${device.id}).`);
    });
}

/** `devices scan-key|trust-key|forget-key`: an SSH device's host key, compared by a person before it is pinned. */
function addHostKeyCommands(devices: Command, ctx: CliContext): void {
  devices
    .command('scan-key <device>')
    .description("show an SSH device's host key fingerprint, to compare with the Pi's own (the device by name or id)")
    .action(async (wanted: string) => {
      const { id } = await deviceFor(ctx, wanted);
      const result = await ctx.call('devices.scanHostKey', { id });
      ctx.print(result, () =>
        [
          `Host key: ${result.fingerprint}`,
          result.pinned === null ? 'Not accepted yet.' : result.pinned === result.fingerprint ? 'This is the accepted key.' : `DIFFERENT from the accepted key ${result.pinned}!`,
          'Compare it on the Pi: ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub',
          result.pinned === null ? `If it matches: fieldkit devices trust-key ${id} --fingerprint ${result.fingerprint}` : '',
        ]
          .filter(Boolean)
          .join('\n'),
      );
    });

  devices
    .command('trust-key <device>')
    .description('accept the host key you compared (it is checked again against the device); the device by name or id')
    .requiredOption('--fingerprint <sha256>', 'the fingerprint shown by scan-key, such as SHA256:…')
    .action(async (wanted: string, opts: { fingerprint: string }) => {
      const { id } = await deviceFor(ctx, wanted);
      const { device } = await ctx.call('devices.trustHostKey', { id, fingerprint: opts.fingerprint });
      ctx.print({ device }, () => `Accepted ${opts.fingerprint} for ${device.name}.\nNext: fieldkit devices connect ${id} --password-stdin   (first contact; installs fieldkit's key)`);
    });

  devices
    .command('forget-key <device>')
    .description("unpin a device's host key after a reinstall (the device by name or id)")
    .action(async (wanted: string) => {
      const { id } = await deviceFor(ctx, wanted);
      const { device } = await ctx.call('devices.forgetHostKey', { id });
      ctx.print({ device }, () => `Forgot the host key of ${device.name}. Scan and accept the new one before connecting.`);
    });
}

/** `devices connect`: reach the device and greet its agent (first contact installs fieldkit's key). */
function addConnectCommand(devices: Command, ctx: CliContext): void {
  devices
    .command('connect <device>')
    .description("connect and greet the agent; with a password (first contact) fieldkit's key is installed (the device by name or id)")
    .option('--password-stdin', 'read the password (first contact only) from standard input')
    .action(async (wanted: string, opts: { passwordStdin?: boolean }) => {
      const { id } = await deviceFor(ctx, wanted);
      const password = opts.passwordStdin === true ? readPasswordFromStdin() : undefined;
      const result = await ctx.call('devices.connect', { id, ...(password === undefined ? {} : { password }) });
      const d = result.device;
      ctx.print(result, () =>
        `${d.name}: agent ${d.agentVersion ?? '?'} (device ${d.agentDeviceId ?? '?'}, journal ${d.journalId ?? '?'}), clock offset ${d.clockOffsetMs ?? '?'} ms, round trip ${result.roundTripMs?.toFixed(0) ?? '?'} ms`,
      );
    });
}

/** `devices discover`: a job that looks for devices not yet registered. */
function addDiscoverCommand(devices: Command, ctx: CliContext): void {
  devices
    .command('discover')
    .description('look for devices: serial ports, mDNS, and SSH on a subnet you name (a job; Ctrl-C cancels)')
    .option('--subnet <cidr>', 'probe this IPv4 subnet (at most /22) for SSH, such as 192.168.1.0/24')
    .addOption(new Option('--port <port>', 'SSH port to probe (default 22)').argParser(contractNumber('devices.discover', 'port')).default(22))
    .option('--no-mdns', 'skip mDNS')
    .option('--no-serial', 'skip serial ports')
    .action(async (opts: { subnet?: string; port: number; mdns: boolean; serial: boolean }) => {
      const services = await ctx.open();
      const { jobId } = await ctx.call('devices.discover', { port: opts.port, mdns: opts.mdns, serial: opts.serial, ...(opts.subnet ? { subnet: opts.subnet } : {}) });
      const record = await followJob(jobId, { events: services.events, jobs: services.jobs, io: ctx.io, json: ctx.json() });
      if (record.state !== 'done') {
        ctx.setExitCode(record.state === 'cancelled' ? exitCodes.cancelled : exitCodes.failed);
        if (!ctx.json()) ctx.io.stderr(`${record.error?.message ?? record.state}\n${record.error ? `what to do: ${record.error.hint}\n` : ''}`);
        return;
      }
      const result = DiscoveryResultSchema.parse(record.result);
      if (ctx.json()) return; // the NDJSON job events already carried the result
      // A source searched another way or not at all comes first: "Nothing found" alone
      // would read as "nothing there".
      for (const note of result.sources) ctx.io.stdout(`${note.message}\n`);
      ctx.io.stdout(
        (result.found.length === 0
          ? 'Nothing found.'
          : formatTable(result.found, [
              { header: 'KIND', value: (f) => f.kind },
              { header: 'ADDRESS', value: (f) => f.address },
              { header: 'FOUND BY', value: (f) => f.source },
              { header: 'DETAIL', value: (f) => [f.name, f.detail].filter(Boolean).join(' — ') },
              { header: 'KNOWN', value: (f) => (f.known ? 'yes' : '') },
            ])) + '\n',
      );
    });
}
