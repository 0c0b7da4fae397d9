/**
 * A registered device as the restore primitive and the service checks reach it: the agent's
 * commands derived from its link as the backup and RPC commands are, its unit, and the node
 * its deployed agent runs on.
 */
import type { Device } from '../../shared/devices.ts';
import { agentRootCommand } from '../backup/index.ts';
import { agentRpcCommand } from '../devices/index.ts';
import type { Link } from '../kernel/link/linkApi.ts';
import type { RestoreTarget } from './restoreTypes.ts';
import type { ServiceTarget } from './verifyService.ts';

/** The deployed agent's unit (build/agent/fieldkit-agent.service.in); the inference app's units would follow it. */
export const agentUnit = 'fieldkit-agent.service';

export function restoreTargetFor(device: Device, link: Link, options: { expectedDeviceId: string | null; keepPaths?: readonly string[]; keepConfig?: readonly string[] }): RestoreTarget {
  return {
    name: device.name,
    link,
    agentCommand: (args) => agentRootCommand(device, args),
    // A local agent (the demo, tests) is a process of its own, not a unit fieldkit manages.
    services: device.link.kind === 'local' ? [] : [agentUnit],
    expectedDeviceId: options.expectedDeviceId,
    ...(options.keepPaths === undefined ? {} : { keepPaths: options.keepPaths }),
    ...(options.keepConfig === undefined ? {} : { keepConfig: options.keepConfig }),
  };
}

export function serviceTargetFor(device: Device, link: Link): ServiceTarget {
  const rpc = agentRpcCommand(device);
  return {
    name: device.name,
    link,
    rpcCommand: rpc,
    // The RPC command runs the agent as its service user: the same, with other arguments.
    agentAsService: (args) => (device.link.kind === 'local' ? rpc.replace(/\srpc$/, ` ${args}`) : rpc.replaceAll(' rpc;', ` ${args};`)),
    nodePath: device.link.kind === 'local' ? null : `${device.link.agentPrefix}/current/node/bin/node`,
  };
}

