/**
 * A producer in its own process, so its requests really arrive concurrently at an agent
 * (a client in the test's own event loop would take turns with the server).
 *
 *   node test/support/ingestLoad.ts <url> <requests> <events per request>
 *
 * Fires all requests at once, each on its own connection, and prints one JSON array of
 * {status, retry_after, body} in request order.
 */
import { request } from 'node:http';

const [url = '', requests = '1', perRequest = '1'] = process.argv.slice(2);

function post(r: number): Promise<{ status: number; retry_after: string | null; body: unknown }> {
  const body = Array.from({ length: Number(perRequest) }, (_, i) => JSON.stringify({ priority: 3, kind: 'load', payload: { r, i, pad: 'p'.repeat(200) } })).join('\n');
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', agent: false, headers: { 'Content-Type': 'application/x-ndjson', 'Content-Length': Buffer.byteLength(body) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => {
        const retry = res.headers['retry-after'];
        resolve({ status: res.statusCode ?? 0, retry_after: typeof retry === 'string' ? retry : null, body: JSON.parse(text) as unknown });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

const results = await Promise.all(Array.from({ length: Number(requests) }, (_, r) => post(r)));
process.stdout.write(JSON.stringify(results));
