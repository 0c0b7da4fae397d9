/**
 * What a Pi's own programs would journal, made up but shaped like the real thing: model
 * inferences with latency, GPS fixes, metrics, and now and then a safety stop. Posted to
 * the agent's ingest endpoint like any local producer.
 */
import { request } from 'node:http';

export type ProducerOptions = { port: number; deviceIndex: number; eventsPerSecond: number; onError?: (error: Error) => void };

/** One second of events for device `deviceIndex` at time `nowMs` (deterministic given both). */
export function syntheticSecond(deviceIndex: number, nowMs: number, count: number): string {
  const lines: string[] = [];
  const base = Math.floor(nowMs / 1000);
  for (let i = 0; i < count; i++) {
    const t = nowMs + Math.floor((i * 1000) / count);
    const n = base * count + i;
    const wave = Math.sin((n + deviceIndex * 100) / 50);
    if (n % 600 === deviceIndex * 7) {
      lines.push(JSON.stringify({ ts_ms: t, priority: 1, kind: 'safety.stop', payload: { reason: 'person in zone', confidence: 0.97 } }));
    } else if (n % 10 === 0) {
      lines.push(JSON.stringify({ ts_ms: t, priority: 2, kind: 'gps.fix', payload: { lat: 52.37 + deviceIndex * 0.01 + wave * 1e-4, lon: 4.89 + wave * 1e-4, hdop: 0.9 } }));
    } else if (n % 5 === 0) {
      lines.push(JSON.stringify({ ts_ms: t, priority: 3, kind: 'metrics.fps', payload: { fps: 28 + wave * 2 } }));
    } else {
      const latency = 38 + deviceIndex * 6 + wave * 8 + (n % 97 === 0 ? 120 : 0);
      lines.push(JSON.stringify({ ts_ms: t, priority: 3, kind: 'inference', model_version: 'yolo-v8n-2026.10', payload: { latency_ms: Math.round(latency * 10) / 10, detections: n % 4 } }));
    }
  }
  return lines.join('\n') + '\n';
}

/** Posts a second of events each second until stopped. */
export function startSyntheticProducer(options: ProducerOptions): () => void {
  let stopped = false;
  const tick = () => {
    if (stopped) return;
    const body = syntheticSecond(options.deviceIndex, Date.now(), options.eventsPerSecond);
    const req = request(
      { host: '127.0.0.1', port: options.port, method: 'POST', path: '/v1/events', headers: { 'Content-Type': 'application/x-ndjson', 'Content-Length': Buffer.byteLength(body) } },
      (res) => {
        res.resume();
      },
    );
    req.on('error', (error) => options.onError?.(error));
    req.end(body);
  };
  const timer = setInterval(tick, 1000);
  timer.unref();
  return () => {
    stopped = true;
    clearInterval(timer);
  };
}
