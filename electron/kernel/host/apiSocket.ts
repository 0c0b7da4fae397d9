/**
 * One browser's WebSocket once the gate let it in: every event of the bus goes out to it,
 * and each text frame is a request answered through the same dispatcher (and so the same
 * validation) as the Electron carrier. A malformed frame gets a BAD_REQUEST answer, never
 * a dropped connection; a client that stops reading is dropped rather than growing memory.
 */
import type { WebSocket } from 'ws';
import { ClientMessageSchema, type EventName, type ServerMessage } from '../../../shared/api.ts';
import { appError, badRequestFromZod } from '../../../shared/errors.ts';
import { dispatch, type ApiHandlers } from '../api/dispatch.ts';
import type { EventBus } from '../api/eventBus.ts';

/** A client this far behind is not reading; it is dropped rather than growing memory. */
const maxBufferedBytes = 16 * 1024 * 1024;

export function serveApiSocket(ws: WebSocket, api: { handlers: ApiHandlers; events: EventBus }): void {
  const unsubscribe = api.events.subscribe((name: EventName, payload) => {
    send(ws, { type: 'event', name, payload });
  });
  ws.on('close', unsubscribe);
  ws.on('error', unsubscribe);
  ws.on('message', (data, isBinary) => {
    void answer(ws, api.handlers, isBinary ? null : rawDataText(data));
  });
}

function send(ws: WebSocket, message: ServerMessage): void {
  if (ws.readyState !== ws.OPEN) return;
  if (ws.bufferedAmount > maxBufferedBytes) {
    ws.close(1013, 'client is not reading its messages');
    return;
  }
  ws.send(JSON.stringify(message));
}

async function answer(ws: WebSocket, handlers: ApiHandlers, text: string | null): Promise<void> {
  let json: unknown;
  try {
    json = text === null ? undefined : JSON.parse(text);
  } catch {
    send(ws, {
      type: 'result',
      id: null,
      result: { ok: false, error: appError('BAD_REQUEST', 'The message is not JSON.', 'Send {"id": <number>, "method": "<name>", "params": {...}} as a text frame.') },
    });
    return;
  }
  const message = ClientMessageSchema.safeParse(json);
  if (!message.success) {
    const id = typeof json === 'object' && json !== null && 'id' in json && typeof json.id === 'number' ? json.id : null;
    send(ws, { type: 'result', id, result: { ok: false, error: badRequestFromZod('Invalid message', message.error) } });
    return;
  }
  const result = await dispatch(handlers, message.data.method, message.data.params);
  send(ws, { type: 'result', id: message.data.id, result });
}

function rawDataText(data: Buffer | ArrayBuffer | Buffer[]): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return (Buffer.isBuffer(data) ? data : Buffer.from(data)).toString('utf8');
}
