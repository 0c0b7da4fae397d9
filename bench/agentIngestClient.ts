/**
 * The producers of bench/agentIngest.ts, in their own process so that they do not share
 * the agent's event loop (as real producers on a Pi do not):
 *
 *   node bench/agentIngestClient.ts <url> <connections> <seconds> <events per batch> <payload bytes>
 *
 * Each connection POSTs NDJSON batches back to back (keep-alive) and waits for the ack.
 * Prints {events, seconds, statuses} as JSON.
 */
import { Agent, request } from 'node:http';

const [url = '', connections = '8', seconds = '5', perBatch = '100', payloadBytes = '200'] = process.argv.slice(2);

/** A payload whose JSON text is exactly `bytes` long. */
function payloadOf(n: number, bytes: number): string {
  const head = JSON.stringify({ sensor: 'bench', n, pad: '' });
  return JSON.stringify({ sensor: 'bench', n, pad: 'x'.repeat(Math.max(0, bytes - head.length)) });
}

const agent = new Agent({ keepAlive: true, maxSockets: Number(connections) });
let n = 0;
function batch(): string {
  return Array.from({ length: Number(perBatch) }, () => `{"priority":3,"kind":"bench","payload":${payloadOf(n++, Number(payloadBytes))}}`).join('\n');
}

const statuses: Record<string, number> = {};
function post(body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', agent, headers: { 'Content-Type': 'application/x-ndjson', 'Content-Length': Buffer.byteLength(body) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => {
        const status = String(res.statusCode ?? 0);
        statuses[status] = (statuses[status] ?? 0) + 1;
        resolve(res.statusCode === 200 ? (JSON.parse(text) as { accepted: number }).accepted : 0);
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

const start = performance.now();
const end = start + Number(seconds) * 1000;
let events = 0;
await Promise.all(
  Array.from({ length: Number(connections) }, async () => {
    while (performance.now() < end) {
      const accepted = await post(batch());
      events += accepted;
    }
  }),
);
process.stdout.write(JSON.stringify({ events, seconds: (performance.now() - start) / 1000, statuses }));
agent.destroy();
