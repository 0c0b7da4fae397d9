/**
 * The discovery job: serial ports, mDNS and an optional subnet probe, reported as one list.
 * Runs in a job worker, so it can be watched and cancelled like any long work. Each source
 * runs on its own: one that fails (no udev, no multicast) is named in the result with why,
 * and the others still run.
 */
import type { Discovered, DiscoveryResult, DiscoverySourceNote } from '../../../shared/devices.ts';
import { throwIfCancelled, type JobContext } from '../../kernel/jobs/jobContext.ts';
import { browseSshServices } from './browseMdns.ts';
import { listSerialPorts, type SerialListOptions } from './listSerialPorts.ts';
import type { DiscoverParams } from './discoverParams.ts';
import { probeSubnet } from './probeSubnet.ts';

export { DiscoverParamsSchema, type DiscoverParams } from './discoverParams.ts';

export type { DiscoveryResult } from '../../../shared/devices.ts';

/** Where each source looks; tests point the serial lister at fixture trees. */
export type DiscoverySources = { serial?: SerialListOptions };

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

export async function runDiscovery(params: DiscoverParams, ctx: JobContext, sources: DiscoverySources = {}): Promise<DiscoveryResult> {
  const known = new Set(params.known);
  const found: Discovered[] = [];
  const notes: DiscoverySourceNote[] = [];
  const add = (d: Omit<Discovered, 'known'>) => {
    if (!found.some((f) => f.address === d.address)) found.push({ ...d, known: known.has(d.address) });
  };
  const note = (source: DiscoverySourceNote['source'], state: DiscoverySourceNote['state'], message: string) => {
    notes.push({ source, state, message });
    ctx.log('warn', message);
  };
  if (params.serial) {
    ctx.progress({ phase: 'serial ports', bytesDone: 0, bytesTotal: null, unit: 'items' });
    try {
      const listing = await listSerialPorts(sources.serial);
      if (listing.note !== null) note('serial', listing.note.state, listing.note.message);
      for (const port of listing.ports) add({ kind: 'serial', address: port.path, name: null, source: 'serial', detail: port.detail });
    } catch (error) {
      note('serial', 'unavailable', `serial ports unavailable: ${messageOf(error)}`);
    }
  }
  throwIfCancelled(ctx.signal);
  if (params.mdns) {
    ctx.progress({ phase: 'mDNS', bytesDone: 0, bytesTotal: null, unit: 'items' });
    const failures: Error[] = [];
    const services = await browseSshServices({ timeoutMs: 2500, signal: ctx.signal, onError: (error) => failures.push(error) });
    for (const s of services) add({ kind: 'ssh', address: `${s.address ?? s.host}:${s.port}`, name: s.name, source: 'mdns', detail: s.host });
    const [failure] = failures;
    if (failure !== undefined) note('mdns', services.length > 0 ? 'degraded' : 'unavailable', `mDNS unavailable: ${failure.message} — devices announcing themselves may have been missed`);
  }
  throwIfCancelled(ctx.signal);
  let probed = 0;
  if (params.subnet !== undefined) {
    ctx.log('info', `Probing ${params.subnet} for SSH on port ${params.port}.`);
    try {
      // Progress counts hosts, not bytes; the UI shows it as n of total.
      const result = await probeSubnet({
        cidr: params.subnet,
        port: params.port,
        signal: ctx.signal,
        onProgress: (done, total) => {
          ctx.progress({ phase: 'probing hosts', bytesDone: done, bytesTotal: total, unit: 'items' });
        },
      });
      probed = result.probed;
      for (const hit of result.found) add({ kind: 'ssh', address: `${hit.host}:${hit.port}`, name: null, source: 'subnet', detail: hit.banner });
    } catch (error) {
      note('subnet', 'unavailable', `subnet probe unavailable: ${messageOf(error)}`);
    }
  }
  throwIfCancelled(ctx.signal);
  return { found, probed, sources: notes };
}
