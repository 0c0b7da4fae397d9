/**
 * A bounded probe of one IPv4 subnet for SSH servers: connect to the port, read the
 * banner (`SSH-2.0-OpenSSH_9.2p1 Raspbian-…`). Concurrency and timeouts are capped so a
 * /24 takes a few seconds and floods nothing; it stops at once when cancelled.
 */
import { connect } from 'node:net';

export type SshBanner = { host: string; port: number; banner: string };

/** Addresses of a CIDR block, without network and broadcast addresses (for /30 and wider). */
export function subnetHosts(cidr: string): string[] {
  const [base, bitsText] = cidr.split('/');
  const bits = Number(bitsText);
  const parts = (base ?? '').split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255) || !Number.isInteger(bits) || bits < 0 || bits > 32) {
    throw new Error(`not an IPv4 subnet: ${cidr}`);
  }
  const address = parts.reduce((acc, p) => acc * 256 + p, 0);
  const size = 2 ** (32 - bits);
  const network = Math.floor(address / size) * size;
  const first = size > 2 ? network + 1 : network;
  const last = size > 2 ? network + size - 2 : network + size - 1;
  const hosts: string[] = [];
  for (let a = first; a <= last; a++) hosts.push([a >>> 24, (a >>> 16) & 255, (a >>> 8) & 255, a & 255].join('.'));
  return hosts;
}

export function readSshBanner(host: string, port: number, timeoutMs: number): Promise<string | null> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    let text = '';
    const done = (value: string | null) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(value);
    };
    const timer = setTimeout(() => {
      done(null);
    }, timeoutMs);
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
      const line = text.split('\n').find((l) => l.startsWith('SSH-'));
      if (line !== undefined) done(line.trim());
      else if (text.length > 4096) done(null);
    });
    socket.on('error', () => {
      done(null);
    });
    socket.on('close', () => {
      done(null);
    });
  });
}

export async function probeSubnet(options: {
  cidr: string;
  port: number;
  signal: AbortSignal;
  concurrency?: number;
  timeoutMs?: number;
  onProgress?: (probed: number, total: number) => void;
}): Promise<{ found: SshBanner[]; probed: number }> {
  const hosts = subnetHosts(options.cidr);
  const found: SshBanner[] = [];
  let next = 0;
  let probed = 0;
  const worker = async () => {
    while (!options.signal.aborted) {
      const host = hosts[next++];
      if (host === undefined) return;
      const banner = await readSshBanner(host, options.port, options.timeoutMs ?? 700);
      if (banner !== null) found.push({ host, port: options.port, banner });
      probed++;
      options.onProgress?.(probed, hosts.length);
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.concurrency ?? 64, hosts.length) }, worker));
  found.sort((a, b) => hosts.indexOf(a.host) - hosts.indexOf(b.host));
  return { found, probed };
}
