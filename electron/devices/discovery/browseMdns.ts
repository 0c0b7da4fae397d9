/** mDNS browse for `_ssh._tcp.local` (Raspberry Pi OS advertises SSH with avahi). */
import makeMdns from 'multicast-dns';

export type MdnsSshService = { name: string; host: string; port: number; address: string | null };

export async function browseSshServices(options: {
  timeoutMs: number;
  signal: AbortSignal;
  interfaceAddress?: string;
  /** Told when the multicast socket fails (no multicast here): the browse then finds nothing. */
  onError?: (error: Error) => void;
}): Promise<MdnsSshService[]> {
  // Bound to the wildcard: a socket bound to a unicast address never sees multicast.
  const mdns = makeMdns(options.interfaceAddress ? { interface: options.interfaceAddress, bind: '0.0.0.0' } : {});
  const services = new Map<string, MdnsSshService>();
  const addresses = new Map<string, string>();
  mdns.on('response', (response) => {
    const records = [...response.answers, ...response.additionals];
    for (const record of records) {
      if (record.type === 'A') addresses.set(record.name, record.data);
      if (record.type === 'SRV' && record.name.endsWith('._ssh._tcp.local')) {
        const instance = record.name.slice(0, -'._ssh._tcp.local'.length);
        services.set(record.name, { name: instance, host: record.data.target, port: record.data.port, address: null });
      }
    }
    for (const service of services.values()) service.address ??= addresses.get(service.host) ?? null;
  });
  // No multicast on this network: nothing found, not a failure of the browse — but the
  // caller is told, so "nothing found" is not mistaken for "nothing there".
  mdns.on('error', (error: Error) => {
    options.onError?.(error);
  });
  mdns.query({ questions: [{ name: '_ssh._tcp.local', type: 'PTR' }] });
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, options.timeoutMs);
    options.signal.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });
  mdns.destroy();
  return [...services.values()];
}
