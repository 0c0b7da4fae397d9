/**
 * `fieldkit provision --serial /dev/ttyUSB0 --hostname pi-017 --device-id pi-017 …`:
 * provision a fresh Pi over its serial console (a job with progress), then print the
 * steps and the transcript of every command. Secrets never go on the command line: the
 * console password and the Wi-Fi passphrase come from the environment or standard input.
 */
import { readFileSync } from 'node:fs';
import { InvalidArgumentError, type Command } from 'commander';
import type { TranscriptEntry } from '../../../shared/deploy.ts';
import { appError, FieldkitError } from '../../../shared/errors.ts';
import { ProvisionNetworkSchema, type ProvisionNetworkInput, type ProvisionStep } from '../../../shared/provision.ts';
import type { CliContext } from '../../kernel/cli/cliContext.ts';
import { exitCodes } from '../../kernel/cli/cliIo.ts';
import { followJob } from '../../kernel/cli/jobProgress.ts';

type ProvisionCliOptions = {
  serial: string;
  hostname: string;
  deviceId: string;
  site?: string;
  network: ProvisionNetworkInput;
  interface?: string;
  user?: string;
  sshHost?: string;
  sshPort?: number;
  passwordStdin?: boolean;
  wifiPskStdin?: boolean;
  outputs?: boolean;
};

/** `dhcp`, `static:ADDR/NN,GW,DNS+DNS`, `wifi:SSID,CC`, `usb-gadget[:ADDR/NN]`. */
export function parseNetworkOption(text: string): ProvisionNetworkInput {
  const colon = text.indexOf(':');
  const mode = colon < 0 ? text : text.slice(0, colon);
  const rest = colon < 0 ? '' : text.slice(colon + 1);
  let candidate: unknown;
  if (mode === 'dhcp' && rest === '') candidate = { mode };
  else if (mode === 'static') {
    const [address = '', gateway = '', dns = ''] = rest.split(',');
    candidate = { mode, address, ...(gateway ? { gateway } : {}), dns: dns === '' ? [] : dns.split('+') };
  } else if (mode === 'wifi') {
    // The SSID may hold commas: the country is after the last one.
    const comma = rest.lastIndexOf(',');
    candidate = { mode, ssid: comma < 0 ? rest : rest.slice(0, comma), country: comma < 0 ? '' : rest.slice(comma + 1) };
  } else if (mode === 'usb-gadget') candidate = rest === '' ? { mode } : { mode, address: rest };
  else throw new InvalidArgumentError('expected dhcp, static:ADDR/NN,GATEWAY,DNS[+DNS], wifi:SSID,COUNTRY or usb-gadget[:ADDR/NN]');
  const parsed = ProvisionNetworkSchema.safeParse(candidate);
  if (!parsed.success) throw new InvalidArgumentError(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
  return candidate as ProvisionNetworkInput;
}

function parsePort(text: string): number {
  const port = Number(text);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new InvalidArgumentError('expected a TCP port (1–65535)');
  return port;
}

export function describeSteps(steps: readonly ProvisionStep[]): string {
  return steps.map((s) => `  ${s.changed ? 'changed  ' : 'unchanged'}  ${s.name.padEnd(12)} ${s.detail}`).join('\n');
}

export function describeTranscript(transcript: readonly TranscriptEntry[], outputs: boolean): string {
  return transcript
    .map((t) => {
      const head = `  [${t.step}] ${t.command.length > 160 ? `${t.command.slice(0, 157)}…` : t.command}  → exit ${t.exitCode === null ? '—' : String(t.exitCode)}, ${String(t.durationMs)} ms`;
      const showOutput = (outputs || (t.exitCode !== 0 && t.exitCode !== null)) && t.output.trim() !== '';
      return showOutput ? `${head}\n${t.output.trimEnd().split('\n').map((l) => `      ${l}`).join('\n')}` : head;
    })
    .join('\n');
}

export function addProvisionCommand(program: Command, ctx: CliContext): void {
  program
    .command('provision')
    .description("provision a fresh Pi over its serial console: hostname, device id, fieldkit's SSH key, sshd, network; then confirm SSH and register it with the host key read over the cable (a job; Ctrl-C cancels)")
    .requiredOption('--serial <port>', 'the serial port the Pi\'s console is on, such as /dev/ttyUSB0 (registered as a serial device if it is not yet)')
    .requiredOption('--hostname <name>', 'the hostname to give the Pi')
    .requiredOption('--device-id <id>', 'the device id its agent journals as')
    .option('--site <site>', 'the site it belongs to')
    .option('--network <spec>', 'dhcp | static:ADDR/NN,GATEWAY,DNS[+DNS] | wifi:SSID,COUNTRY (passphrase from $FIELDKIT_WIFI_PSK or --wifi-psk-stdin) | usb-gadget[:ADDR/NN]', parseNetworkOption, { mode: 'dhcp' })
    .option('--interface <name>', 'the interface for dhcp, static or wifi (default eth0, wlan0 for wifi)')
    .option('--user <name>', 'whose authorized_keys gets fieldkit\'s key (default: the serial device\'s login user, pi)')
    .option('--ssh-host <host>', 'where to confirm SSH (default: the static address, else the address the interface gets)')
    .option('--ssh-port <port>', 'the SSH port to confirm (default: the one sshd on the Pi is configured for)', parsePort)
    .option('--password-stdin', 'read the console login password from standard input (else $FIELDKIT_SERIAL_PASSWORD, else the saved one)')
    .option('--wifi-psk-stdin', 'read the Wi-Fi passphrase from standard input (after the password when both are read)')
    .option('--outputs', 'print every command\'s output in the transcript (failed ones always are)')
    .action(async (opts: ProvisionCliOptions) => {
      const stdinLines = opts.passwordStdin === true || opts.wifiPskStdin === true ? readFileSync(0, 'utf8').split(/\r?\n/) : [];
      const password = opts.passwordStdin === true ? stdinLines.shift() : process.env.FIELDKIT_SERIAL_PASSWORD;
      const wifiPsk = opts.wifiPskStdin === true ? stdinLines.shift() : process.env.FIELDKIT_WIFI_PSK;
      let network = opts.network;
      if (opts.interface !== undefined) {
        if (network.mode === 'usb-gadget') throw new FieldkitError(appError('BAD_REQUEST', 'USB gadget Ethernet is always usb0.', 'Leave out --interface with --network usb-gadget.', 'interface'));
        network = { ...network, interface: opts.interface };
      }
      if (network.mode === 'wifi' && (wifiPsk === undefined || wifiPsk === '')) {
        throw new FieldkitError(appError('BAD_REQUEST', `Joining "${network.ssid}" needs its passphrase.`, 'Set FIELDKIT_WIFI_PSK, or pass --wifi-psk-stdin and type it (it is never shown or stored).', 'wifiPsk'));
      }

      const { devices } = await ctx.call('devices.list', {});
      const known = devices.find((d) => d.link.kind === 'serial' && d.link.path === opts.serial);
      const serialDevice = known ?? (await ctx.call('devices.add', { name: opts.serial, link: { kind: 'serial', path: opts.serial } })).device;
      const { jobId } = await ctx.call('devices.provision', {
        id: serialDevice.id,
        identity: { hostname: opts.hostname, deviceId: opts.deviceId, ...(opts.site === undefined ? {} : { site: opts.site }) },
        network,
        ...(wifiPsk !== undefined && network.mode === 'wifi' ? { wifiPsk } : {}),
        ...(opts.user === undefined ? {} : { user: opts.user }),
        ...(opts.sshHost === undefined ? {} : { sshHost: opts.sshHost }),
        ...(opts.sshPort === undefined ? {} : { sshPort: opts.sshPort }),
        ...(password === undefined || password === '' ? {} : { password }),
      });
      if (!ctx.json()) ctx.io.stderr(`Provisioning ${opts.hostname} over ${opts.serial} (job ${jobId}).\n`);
      const services = await ctx.open();
      const record = await followJob(jobId, { events: services.events, jobs: services.jobs, io: ctx.io, json: ctx.json() });
      const result = (record.result ?? {}) as { steps?: ProvisionStep[]; transcript?: TranscriptEntry[]; sshHostKey?: string; ssh?: { host: string; port: number; username: string }; device?: { id: string; name: string } };
      if (ctx.json()) ctx.io.stdout(JSON.stringify({ state: record.state, error: record.error, result: record.result }) + '\n');
      else {
        const lines = [`Steps:\n${describeSteps(result.steps ?? [])}`, `Transcript (${String(result.transcript?.length ?? 0)} commands):\n${describeTranscript(result.transcript ?? [], opts.outputs === true)}`];
        if (record.state === 'done' && result.ssh && result.device) {
          lines.push(`${result.device.name} answers at ${result.ssh.username}@${result.ssh.host}:${String(result.ssh.port)}; host key ${result.sshHostKey ?? ''} pinned (read over the serial cable). Device ${result.device.id}.`);
          lines.push(`Next: fieldkit deploy <bundle> --to ${result.device.id}`);
        }
        ctx.io.stdout(lines.join('\n\n') + '\n');
      }
      ctx.setExitCode(record.state === 'done' ? exitCodes.ok : record.state === 'cancelled' ? exitCodes.cancelled : exitCodes.failed);
    });
}
