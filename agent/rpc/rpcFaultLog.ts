/**
 * Says what went wrong on the RPC input without flooding the log when a serial line is
 * noisy: damaged frames one line each (at most 20 per 10 s), plain noise as a byte count
 * per 10 s.
 */
import type { DecodedItem } from '../../shared/rpcFrame.ts';

export function createFaultLog(log: (line: string) => void): (item: DecodedItem & { kind: 'fault' }) => void {
  const windowMs = 10_000;
  const perWindow = 20;
  let windowStart = Date.now();
  let logged = 0;
  let suppressed = 0;
  let noiseBytes = 0;
  return (item) => {
    const now = Date.now();
    if (now - windowStart >= windowMs) {
      if (noiseBytes > 0) log(`rpc: skipped ${noiseBytes} bytes of noise on the input in the last ${Math.round((now - windowStart) / 1000)} s`);
      if (suppressed > 0) log(`rpc: ${suppressed} more damaged input frames not shown`);
      windowStart = now;
      logged = 0;
      suppressed = 0;
      noiseBytes = 0;
    }
    if (item.fault === 'garbage') {
      noiseBytes += item.bytes;
    } else if (logged < perWindow) {
      logged++;
      log(`rpc: input ${item.fault}: ${item.detail}`);
    } else {
      suppressed++;
    }
  };
}
