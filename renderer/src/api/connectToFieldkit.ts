/**
 * Picks the carrier once, at startup: Electron's preload bridge when this window runs in
 * the app, otherwise the web host's WebSocket on the origin that served this page.
 */
import { webSocketPath, type FieldkitBridge } from '../../../shared/api.ts';
import { fail } from '../../../shared/errors.ts';
import { reloadWhenANewTokenArrives, takeAccessToken } from './accessToken.ts';
import { createCheckedBridge } from './checkedBridge.ts';
import { notConnectedError } from './clientErrors.ts';
import { fixedConnection, type Connection } from './connection.ts';
import { createWebSocketConnection } from './webSocketCarrier.ts';

/** The connection for this window. */
export function connectToFieldkit(): Connection {
  const preload = window.fieldkit;
  if (preload !== undefined) return fixedConnection(checkedPreloadBridge(preload), { kind: 'open' });

  reloadWhenANewTokenArrives();
  const token = takeAccessToken();
  if (token === null) return fixedConnection(unconnectedBridge(), { kind: 'no-token' });

  const query = `?token=${encodeURIComponent(token)}`;
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return createWebSocketConnection({
    socketUrl: `${scheme}//${location.host}${webSocketPath}${query}`,
    probeUrl: `${location.protocol}//${location.host}${webSocketPath}${query}`,
  });
}

/** Main validates requests; the window still checks answers, as it does for the web host. */
function checkedPreloadBridge(preload: FieldkitBridge): FieldkitBridge {
  return createCheckedBridge({
    carrier: 'electron',
    // The contract's types were checked at the call site; this is the untyped hop.
    call: (method, params) => preload.invoke(method, params as never),
    listen: (event, listener) => preload.subscribe(event, listener),
  });
}

function unconnectedBridge(): FieldkitBridge {
  return createCheckedBridge({
    carrier: 'web',
    call: (method) => Promise.resolve(fail(notConnectedError(method))),
    listen: () => () => undefined,
  });
}
