import type { FieldkitBridge } from '../../../shared/api.ts';

declare global {
  interface Window {
    /** Set by Electron's preload; absent in a browser talking to the web host. */
    readonly fieldkit?: FieldkitBridge;
  }
}
