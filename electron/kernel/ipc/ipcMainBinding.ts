/**
 * The main-process end of the Electron carrier: one `invoke` channel for every method of
 * the contract, and one channel per contract event. Written against the few members of
 * ipcMain / WebContents it needs, so it runs (and is tested) in plain Node; main.ts passes
 * in the real Electron objects.
 */
import { ipcChannels } from '../../../shared/api.ts';
import { appError, type Failure, type Result } from '../../../shared/errors.ts';
import { dispatch, toAppError, type ApiHandlers } from '../api/dispatch.ts';
import type { EventBus } from '../api/eventBus.ts';
import { isOwnRendererUrl } from './rendererPolicy.ts';

/** What the sender check reads of Electron's WebFrameMain. */
export type FrameLike = {
  readonly url: string;
  readonly parent: FrameLike | null;
};

/** What the binding uses of Electron's WebContents (our window's). */
export type WebContentsLike = {
  readonly id: number;
  readonly mainFrame: FrameLike;
  isDestroyed(): boolean;
  send(channel: string, ...args: unknown[]): void;
};

/** What the binding reads of Electron's IpcMainInvokeEvent. */
export type InvokeEventLike = {
  readonly sender: { readonly id: number };
  /** Null when the frame navigated away or was destroyed before the message arrived. */
  readonly senderFrame: FrameLike | null;
};

export type InvokeListener = (event: InvokeEventLike, ...args: unknown[]) => Promise<unknown>;

/** What the binding uses of Electron's ipcMain. */
export type IpcMainLike = {
  handle(channel: string, listener: InvokeListener): void;
  removeHandler(channel: string): void;
};

export type IpcMainBindingOptions = {
  ipcMain: IpcMainLike;
  /** The webContents of our one window: the only sender served, the only event receiver. */
  webContents: WebContentsLike;
  /** The URL the window loaded: our file:// index.html, or the Vite dev server in development. */
  rendererUrl: string;
  handlers: ApiHandlers;
  events: EventBus;
  /** Told why a request was refused, for the log; the renderer only sees UNAUTHORIZED. */
  onRefused?: (reason: string) => void;
};

/**
 * Serves the app API on `ipcChannels.invoke` to our window's main frame only and forwards
 * every EventBus event to it. Returns the function that undoes both; call it when the
 * window closes (ipcMain allows one handler per channel).
 */
export function bindIpcMain(options: IpcMainBindingOptions): () => void {
  const { ipcMain, webContents, rendererUrl, handlers, events } = options;
  const onRefused = options.onRefused ?? (() => undefined);

  ipcMain.handle(ipcChannels.invoke, async (event, method, params): Promise<Result<unknown>> => {
    // Whatever happens, the renderer gets a Result: a rejected invoke would reach it as
    // an Error whose message Electron rewrites, losing code and hint.
    try {
      const refusal = refuseForeignSender(event, webContents, rendererUrl);
      if (refusal !== null) {
        onRefused(refusal);
        return unauthorized();
      }
      return await dispatch(handlers, method, params);
    } catch (error) {
      return { ok: false, error: toAppError(error) };
    }
  });

  const unsubscribe = events.subscribe((name, payload) => {
    if (webContents.isDestroyed()) return;
    // Events describe this laptop's drives and jobs: never hand them to a page that is
    // not ours, even if one were somehow loaded.
    if (!isOwnRendererUrl(webContents.mainFrame.url, rendererUrl)) return;
    webContents.send(ipcChannels.event(name), payload);
  });

  let bound = true;
  return function unbindIpcMain() {
    if (!bound) return;
    bound = false;
    unsubscribe();
    ipcMain.removeHandler(ipcChannels.invoke);
  };
}

/**
 * Why a sender may not call the API, or null when it may. Only the main frame of our
 * own window, showing our own page, is served: not subframes, not other windows or
 * webviews, not a page the window was somehow navigated to.
 */
export function refuseForeignSender(event: InvokeEventLike, webContents: WebContentsLike, rendererUrl: string): string | null {
  if (webContents.isDestroyed()) return 'the window is closed';
  if (event.sender.id !== webContents.id) return `sender webContents ${event.sender.id} is not the fieldkit window`;
  const frame = event.senderFrame;
  if (frame === null) return 'the sending frame is gone';
  if (frame.parent !== null) return `a subframe (${frame.url}) may not call the API`;
  if (!isOwnRendererUrl(frame.url, rendererUrl)) return `page ${frame.url} is not the fieldkit renderer`;
  return null;
}

function unauthorized(): Failure {
  return {
    ok: false,
    error: appError(
      'UNAUTHORIZED',
      'This page may not use the fieldkit API.',
      'Only the fieldkit window itself may call the API. Restart fieldkit if you see this in its own window.',
    ),
  };
}
