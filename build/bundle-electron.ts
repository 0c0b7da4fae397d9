/**
 * Bundles the laptop side for Electron and the CLI into dist/electron:
 *   main.js       Electron main process (ESM)
 *   preload.cjs   sandboxed preload (CommonJS, everything inlined: a sandboxed preload
 *                 can require nothing but 'electron')
 *   jobWorker.js  the forked job worker (ESM)
 *   flashHelper.js the flash helper a flash job's worker starts with administrator rights (ESM)
 *   cli.js        the `fieldkit` command (ESM, executable)
 * Native and runtime-loaded packages stay external; electron-builder ships them unpacked.
 * Run as `node build/bundle-electron.ts [--outdir <dir>]`.
 */
import { chmod, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { bundleAgentCode } from './agent/bundleAgentCode.ts';
import { build, type BuildOptions } from 'esbuild';

const root = path.join(import.meta.dirname, '..');
export const defaultOutDir = path.join(root, 'dist', 'electron');

/** Loaded at run time from node_modules: native addons, and electron itself. */
export const externalPackages = [
  'electron',
  'better-sqlite3',
  'drivelist',
  'serialport',
  '@serialport/*',
  'ssh2',
  'cpu-features',
  // xz decoder: its native binary is a per-platform optional dependency, resolved at run time.
  '@napi-rs/*',
  // ws's optional native speed-ups; it falls back to JS when they are absent.
  'bufferutil',
  'utf-8-validate',
];

// esbuild turns a bundled CommonJS dependency's require('fs') into a throwing shim in ESM
// output unless a real `require` is in scope.
const esmRequireBanner = "import { createRequire as __fieldkitCreateRequire } from 'node:module';\nconst require = __fieldkitCreateRequire(import.meta.url);";

export type BundleOutput = { file: string; bytes: number };

/** Builds the bundles into `outDir` (emptied first) and returns their sizes. */
export async function bundleElectron(outDir: string = defaultOutDir): Promise<BundleOutput[]> {
  await rm(outDir, { recursive: true, force: true });
  const nodeEsm: BuildOptions = {
    absWorkingDir: root,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node24',
    sourcemap: true,
    external: externalPackages,
    banner: { js: esmRequireBanner },
    metafile: true,
    logLevel: 'warning',
  };
  const cliEntry = path.join(root, 'electron', 'cli', 'fieldkit.ts');
  // esbuild keeps an entry's own hashbang; adding a second one would break the file.
  const cliHasHashbang = (await readFile(cliEntry, 'utf8')).startsWith('#!');
  const results = await Promise.all([
    build({ ...nodeEsm, entryPoints: [path.join(root, 'electron', 'main.ts')], outfile: path.join(outDir, 'main.js') }),
    build({ ...nodeEsm, entryPoints: [path.join(root, 'electron', 'app', 'jobWorkerMain.ts')], outfile: path.join(outDir, 'jobWorker.js') }),
    // Beside jobWorker.js: helperChannel.ts (bundled into the worker) starts it from there.
    build({ ...nodeEsm, entryPoints: [path.join(root, 'electron', 'flash', 'flashHelper.ts')], outfile: path.join(outDir, 'flashHelper.js') }),
    build({
      ...nodeEsm,
      entryPoints: [cliEntry],
      outfile: path.join(outDir, 'cli.js'),
      banner: { js: cliHasHashbang ? esmRequireBanner : `#!/usr/bin/env node\n${esmRequireBanner}` },
    }),
    build({
      entryPoints: [path.join(root, 'electron', 'preload.ts')],
      outfile: path.join(outDir, 'preload.cjs'),
      absWorkingDir: root,
      bundle: true,
      // Parsed on every page load: minified (the source map keeps stacks readable).
      minify: true,
      // The sandboxed preload is a browser context with a tiny require: platform browser
      // makes any accidental node:* import fail the build instead of failing at run time.
      platform: 'browser',
      format: 'cjs',
      target: 'chrome130',
      sourcemap: true,
      external: ['electron'],
      metafile: true,
      logLevel: 'warning',
    }),
  ]);
  await chmod(path.join(outDir, 'cli.js'), 0o755);
  // The demo site runs real agents on the laptop: the same agent bundle a Pi gets.
  const agent = await bundleAgentCode(path.join(outDir, 'agent.mjs'));
  const outputs: BundleOutput[] = [{ file: agent.file, bytes: agent.bytes }];
  for (const result of results) {
    for (const [file, output] of Object.entries(result.metafile?.outputs ?? {})) {
      if (!file.endsWith('.map')) outputs.push({ file: path.resolve(root, file), bytes: output.bytes });
    }
  }
  return outputs;
}

function formatSize(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${(bytes / 1024 / 1024).toFixed(1)} MB` : `${(bytes / 1024).toFixed(1)} kB`;
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { outdir: { type: 'string' } } });
  const outDir = values.outdir === undefined ? defaultOutDir : path.resolve(values.outdir);
  const outputs = await bundleElectron(outDir);
  for (const { file, bytes } of outputs) {
    console.log(`  ${path.relative(process.cwd(), file).padEnd(36)} ${formatSize(bytes).padStart(9)}`);
  }
}
