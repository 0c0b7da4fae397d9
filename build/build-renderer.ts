/**
 * Builds the React renderer into dist/renderer with renderer/vite.config.ts, for Electron
 * (loaded from file://) and the web host (`fieldkit serve`) alike.
 * Run as `node build/build-renderer.ts`.
 */
import { join } from 'node:path';
import { build } from 'vite';

const configFile = join(import.meta.dirname, '..', 'renderer', 'vite.config.ts');

await build({ configFile, logLevel: 'info' });
