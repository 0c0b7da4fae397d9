/**
 * A device named on the command line: its id, or the name of exactly one device, so every
 * command that takes a device answers the same mistake the same way (a `UsageError`,
 * exit 2). Exported from devices/index.ts for the other domains' commands.
 */
import type { Device } from '../../../shared/devices.ts';
import { appError } from '../../../shared/errors.ts';
import { UsageError } from '../../kernel/cli/cliArguments.ts';
import type { CliContext } from '../../kernel/cli/cliContext.ts';
import { describeLink } from '../deviceStore.ts';

const listHint = 'List devices with `fieldkit devices` and use a name or an id from there.';

/** One device named by `wanted`: its id, or the name of exactly one device. Ambiguous names are refused, listing the candidates. */
export function resolveDevice(all: readonly Device[], wanted: string, field = 'device'): Device {
  const byId = all.find((d) => d.id === wanted);
  if (byId) return byId;
  const byName = all.filter((d) => d.name === wanted);
  const [only] = byName;
  if (only !== undefined && byName.length === 1) return only;
  if (byName.length > 1) {
    const candidates = byName.map((d) => `${d.id} (${d.site === '' ? 'no site' : d.site}, ${d.link.kind === 'local' ? 'local' : `${d.link.kind} ${describeLink(d.link)}`})`);
    throw new UsageError(appError('BAD_REQUEST', `${String(byName.length)} devices are named ${wanted}: ${candidates.join('; ')}.`, 'Name the one you mean by its id.', field));
  }
  throw new UsageError(appError('NOT_FOUND', `No device is called ${wanted}.`, listHint, field));
}

/** Each of `wanted` resolved as `resolveDevice` does; the ids, in order. */
export function resolveDeviceIds(all: readonly Device[], wanted: readonly string[], field = 'devices'): string[] {
  return wanted.map((w) => resolveDevice(all, w, field).id);
}


/** The registered device `wanted` names (its id, or the name of exactly one device). */
export async function deviceFor(ctx: CliContext, wanted: string): Promise<Device> {
  const { devices } = await ctx.call('devices.list', {});
  return resolveDevice(devices, wanted);
}
