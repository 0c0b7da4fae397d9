/** A minimal client of the web host's protocol, for tests (the renderer has its own). */
import WebSocket from 'ws';
import type { EventName, ServerMessage } from '../../shared/api.ts';
import type { Result } from '../../shared/errors.ts';

export type TestClient = {
  call(method: string, params?: unknown): Promise<Result<unknown>>;
  sendRaw(text: string): Promise<ServerMessage>;
  events: { name: EventName; payload: unknown }[];
  close(): void;
};

export function connect(url: string, headers: Record<string, string> = {}): Promise<TestClient> {
  const ws = new WebSocket(url, { headers });
  const waiting = new Map<number | null, (m: ServerMessage) => void>();
  const events: TestClient['events'] = [];
  let nextId = 1;
  ws.on('message', (data: Buffer) => {
    const message = JSON.parse(data.toString('utf8')) as ServerMessage;
    if (message.type === 'event') {
      events.push({ name: message.name, payload: message.payload });
      return;
    }
    const resolve = waiting.get(message.id);
    waiting.delete(message.id);
    resolve?.(message);
  });
  const client: TestClient = {
    call(method, params) {
      const id = nextId++;
      return new Promise((resolve) => {
        waiting.set(id, (m) => {
          if (m.type === 'result') resolve(m.result);
        });
        ws.send(JSON.stringify({ id, method, params }));
      });
    },
    sendRaw(text) {
      return new Promise((resolve) => {
        waiting.set(null, resolve);
        ws.send(text);
      });
    },
    events,
    close: () => {
      ws.close();
    },
  };
  return new Promise((resolve, reject) => {
    ws.once('open', () => {
      resolve(client);
    });
    ws.once('unexpected-response', (_req, res) => {
      reject(new Error(`HTTP ${String(res.statusCode)}`));
    });
    ws.once('error', reject);
  });
}
