/**
 * `npm run dev`: the renderer from Vite's dev server (hot reload) inside Electron. The
 * main process and preload are bundled once; restart this after changing them.
 * Run as `node build/dev.ts`.
 */
import path from 'node:path';
import { createServer } from 'vite';
import { bundleElectron } from './bundle-electron.ts';
import { explainMissingElectron, resolveElectronBinary, runElectron } from './start-electron.ts';

const root = path.join(import.meta.dirname, '..');

await bundleElectron();
const electron = await resolveElectronBinary();
if (!electron.ok) {
  explainMissingElectron(electron.reason);
  process.exit(1);
}

const server = await createServer({ configFile: path.join(root, 'renderer', 'vite.config.ts') });
await server.listen();
const devServerUrl = server.resolvedUrls?.local[0];
if (devServerUrl === undefined) {
  await server.close();
  throw new Error('Vite started but reported no local URL');
}
server.printUrls();

const code = await runElectron(electron.path, { VITE_DEV_SERVER_URL: devServerUrl });
await server.close();
process.exitCode = code;
