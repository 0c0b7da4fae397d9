/**
 * Opening a device's link and greeting its agent. Host keys are never trusted here
 * implicitly: an SSH device must have its key pinned first (scanHostKey → the technician
 * compares → pin), and only then may a password be used to install fieldkit's key.
 */
import type { AgentResponseOf } from '../../shared/agentRpc.ts';
import type { Device } from '../../shared/devices.ts';
import { appError, FieldkitError, isFieldkitError } from '../../shared/errors.ts';
import { createAgentRpcClient, type AgentRpcClient } from '../kernel/link/agentRpcClient.ts';
import type { AppSshKey } from '../kernel/link/appSshKey.ts';
import type { Link, LinkStream } from '../kernel/link/linkApi.ts';
import { shellQuote } from '../kernel/link/shellQuote.ts';
import { createLocalLink } from '../kernel/link/localLink.ts';
import { connectSsh, installAppKey } from '../kernel/link/sshLink.ts';

export async function openDeviceLink(device: Device, options: { appKey: AppSshKey; password?: string | undefined; timeoutMs?: number }): Promise<Link> {
  const { link } = device;
  switch (link.kind) {
    case 'local':
      return createLocalLink();
    case 'serial': {
      // serialport (a native addon) loads only for a serial device: an SSH backup's worker does not wait for it.
      const { connectSerial } = await import('../kernel/link/serialLink.ts');
      return connectSerial({
        target: { path: link.path, baudRate: link.baudRate },
        credentials: options.password === undefined ? null : { username: link.username, password: options.password },
        ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}),
      });
    }
    case 'ssh': {
      if (device.hostKeyFingerprint === null) {
        throw new FieldkitError(
          appError('HOST_KEY_UNTRUSTED', `${device.name} has no accepted host key yet.`, 'Check its fingerprint in Devices (Scan host key) and accept it, then connect.'),
        );
      }
      const ssh = await connectSsh({
        target: { host: link.host, port: link.port, username: link.username },
        appKey: options.appKey,
        hostKey: { pinned: device.hostKeyFingerprint },
        ...(options.password === undefined ? {} : { password: options.password }),
        ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}),
      });
      // A password login is first contact: leave fieldkit's key behind so the next
      // visit needs no password.
      if (ssh.authenticatedWith === 'password') await installAppKey(ssh, options.appKey.publicKey);
      return ssh;
    }
  }
}

/** Reads an SSH device's host key fingerprint without logging in (for the technician to compare). */
export async function scanHostKey(device: Device, appKey: AppSshKey): Promise<string> {
  if (device.link.kind !== 'ssh') {
    throw new FieldkitError(appError('BAD_REQUEST', `${device.name} is not reached over SSH; it has no host key.`, 'Host keys apply to SSH devices only.', 'id'));
  }
  let seen = '';
  try {
    const ssh = await connectSsh({
      target: { host: device.link.host, port: device.link.port, username: device.link.username },
      appKey,
      hostKey: {
        pinned: null,
        acceptFirstContact: (fingerprint) => {
          seen = fingerprint;
          return Promise.resolve(false);
        },
      },
      timeoutMs: 10_000,
    });
    await ssh.close();
  } catch (error) {
    if (seen === '') throw error;
    if (!isFieldkitError(error) || error.appError.code !== 'HOST_KEY_UNTRUSTED') throw error;
  }
  return seen;
}

export type AgentSession = {
  client: AgentRpcClient;
  stream: LinkStream;
  hello: AgentResponseOf<'hello'>;
  /** Device clock minus laptop clock, from the hello round trip (its midpoint). */
  clockOffsetMs: number;
  roundTripMs: number;
  close(): Promise<void>;
};

/** Starts the agent's RPC over `link` and greets it. */
export async function openAgentSession(link: Link, agentCommand: string): Promise<AgentSession> {
  const stream = await link.openStream(agentCommand);
  const client = createAgentRpcClient(stream, { timeoutMs: 15_000 });
  // The first answer includes the agent's start-up; the clock offset is taken from a
  // second round trip, which measures only the link.
  let sentAt = Date.now();
  let hello = await client.call('hello', { client: 'fieldkit' });
  let receivedAt = Date.now();
  if (hello.ok) {
    sentAt = Date.now();
    hello = await client.call('hello', { client: 'fieldkit' });
    receivedAt = Date.now();
  }
  if (!hello.ok) {
    client.close();
    stream.close();
    const stderr = stream.stderrTail().trim();
    throw new FieldkitError(
      appError(
        hello.error.code === 'UNAVAILABLE' ? 'UNAVAILABLE' : hello.error.code,
        `The agent on ${link.describe} did not answer: ${hello.error.message}${stderr ? ` (${stderr.split('\n').slice(-2).join(' ')})` : ''}`,
        /not found|No such file/i.test(stderr) ? 'The fieldkit agent is not installed on this device: deploy it from the Deploy screen.' : hello.error.hint,
      ),
    );
  }
  return {
    client,
    stream,
    hello: hello.value,
    clockOffsetMs: hello.value.clock_ms - (sentAt + receivedAt) / 2,
    roundTripMs: receivedAt - sentAt,
    close: async () => {
      client.close();
      await Promise.race([stream.exit, new Promise((resolve) => setTimeout(resolve, 3000))]);
      stream.close();
    },
  };
}

/** The user the agent's systemd unit runs as (build/agent/fieldkit-agent.service.in). */
const deployedServiceUser = 'fieldkit-agent';

/**
 * The command that starts the agent RPC on this device: its install prefix, else PATH. A
 * deployed agent's journal and config belong to its service user (fieldkit-agent, mode
 * 0750), so when that user exists the RPC runs as it, through passwordless sudo.
 */
export function agentRpcCommand(device: Device): string {
  if (device.link.kind === 'local') return device.link.agentCommand;
  const agent = shellQuote(`${device.link.agentPrefix}/current/bin/fieldkit-agent`);
  const asService = `sudo -n -u ${deployedServiceUser}`;
  return `if [ -x ${agent} ] && id -u ${deployedServiceUser} >/dev/null 2>&1 && ${asService} true 2>/dev/null; then exec ${asService} ${agent} rpc; elif [ -x ${agent} ]; then exec ${agent} rpc; else exec fieldkit-agent rpc; fi`;
}
