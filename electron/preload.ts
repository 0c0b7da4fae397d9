/**
 * The sandboxed preload: exposes the app API, and only it, as `window.fieldkit`. Bundled
 * to CommonJS with everything inlined (dist/electron/preload.cjs), because a sandboxed
 * preload can require nothing but 'electron'.
 */
import { contextBridge, ipcRenderer } from 'electron';
import { createPreloadBridge } from './kernel/ipc/preloadBridge.ts';

contextBridge.exposeInMainWorld('fieldkit', createPreloadBridge(ipcRenderer));
