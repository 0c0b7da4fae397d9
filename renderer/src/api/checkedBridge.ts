/**
 * Every answer and event is checked against the shared contract before a screen sees it.
 * The other side is another process or machine and may be a different version; a
 * malformed message must become a Result failure (or a dropped event), never a crash.
 */
import {
  events,
  methods,
  type EventName,
  type EventPayloadOf,
  type FieldkitBridge,
  type MethodName,
  type RequestOf,
  type ResponseOf,
} from '../../../shared/api.ts';
import { fail, resultSchema, type Result } from '../../../shared/errors.ts';
import { carrierThrewError, malformedResponseError } from './clientErrors.ts';
import type { RawCarrier } from './connection.ts';

/** Wraps a raw carrier as the typed bridge screens use. */
export function createCheckedBridge(raw: RawCarrier): FieldkitBridge {
  async function invoke<M extends MethodName>(method: M, params: RequestOf<M>): Promise<Result<ResponseOf<M>>> {
    let answer: unknown;
    try {
      answer = await raw.call(method, params);
    } catch (thrown) {
      return fail(carrierThrewError(method, thrown));
    }
    const checked = resultSchema(methods[method].response).safeParse(answer);
    if (!checked.success) return fail(malformedResponseError(method, checked.error));
    return checked.data as Result<ResponseOf<M>>;
  }

  function subscribe<E extends EventName>(event: E, listener: (payload: EventPayloadOf<E>) => void): () => void {
    return raw.listen(event, (payload) => {
      const checked = events[event].safeParse(payload);
      if (!checked.success) {
        // There is no caller to hand a failure to; dropping one bad event beats acting on it.
        console.warn(`fieldkit: dropped a malformed '${event}' event`, checked.error.issues);
        return;
      }
      listener(checked.data as EventPayloadOf<E>);
    });
  }

  return { carrier: raw.carrier, invoke, subscribe };
}
