/**
 * The discovery job: serial ports, mDNS and an optional subnet probe, reported as one list.
 * Runs in a job worker, so it can be watched and cancelled like any long work.
 */
import { z } from 'zod';
import type { Discovered } from '../../../shared/devices.ts';
import { throwIfCancelled, type JobContext } from '../../jobs/jobContext.ts';
import { browseSshServices } from './browseMdns.ts';
import { listSerialPorts } from './listSerialPorts.ts';
import { probeSubnet } from './probeSubnet.ts';

export const DiscoverParamsSchema = z.object({
  subnet: z.string().optional(),
  port: z.number().int(),
  mdns: z.boolean(),
  serial: z.boolean(),
  /** Addresses already registered (host:port or port path), to mark as known. */
  known: z.array(z.string()),
});
export type DiscoverParams = z.infer<typeof DiscoverParamsSchema>;

export async function runDiscovery(params: DiscoverParams, ctx: JobContext): Promise<{ found: Discovered[]; probed: number }> {
  const known = new Set(params.known);
  const found: Discovered[] = [];
  const add = (d: Omit<Discovered, 'known'>) => {
    if (!found.some((f) => f.address === d.address)) found.push({ ...d, known: known.has(d.address) });
  };
  if (params.serial) {
    ctx.progress({ phase: 'serial ports', bytesDone: 0, bytesTotal: null, unit: 'items' });
    for (const port of await listSerialPorts()) add({ kind: 'serial', address: port.path, name: null, source: 'serial', detail: port.detail });
  }
  throwIfCancelled(ctx.signal);
  if (params.mdns) {
    ctx.progress({ phase: 'mDNS', bytesDone: 0, bytesTotal: null, unit: 'items' });
    for (const s of await browseSshServices({ timeoutMs: 2500, signal: ctx.signal })) {
      add({ kind: 'ssh', address: `${s.address ?? s.host}:${s.port}`, name: s.name, source: 'mdns', detail: s.host });
    }
  }
  throwIfCancelled(ctx.signal);
  let probed = 0;
  if (params.subnet !== undefined) {
    ctx.log('info', `Probing ${params.subnet} for SSH on port ${params.port}.`);
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
  }
  throwIfCancelled(ctx.signal);
  return { found, probed };
}
