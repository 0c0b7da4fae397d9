/**
 * esbuild: agent/main.ts and everything it imports (shared/, npm packages) into one ESM
 * file for Node 24. Only Node's built-ins stay outside (node:sqlite among them): the Pi has
 * no node_modules, so any other import left external would fail at start, and the build
 * refuses to produce such a bundle.
 */
import { builtinModules } from 'node:module';
import path from 'node:path';
import { build } from 'esbuild';

const repoRoot = path.join(import.meta.dirname, '..', '..');
export const defaultAgentEntry = path.join(repoRoot, 'agent', 'main.ts');

// esbuild turns a bundled CommonJS dependency's require('events') into a throwing shim in ESM
// output unless a real `require` is in scope.
const esmRequireBanner = "import { createRequire as __fieldkitCreateRequire } from 'node:module';\nconst require = __fieldkitCreateRequire(import.meta.url);";

/**
 * ws's optional native speed-ups: it require()s them inside try/catch and falls back to plain
 * JavaScript, so esbuild leaves them as run-time requires that fail harmlessly on the Pi.
 * Native addons could not be bundled anyway. Anything else left external fails the build.
 */
export const optionalRequires = ['bufferutil', 'utf-8-validate'];

/** True for `node:x` and the bare names of Node's built-in modules. */
export function isNodeBuiltin(specifier: string): boolean {
  return specifier.startsWith('node:') || builtinModules.includes(specifier) || builtinModules.includes(specifier.split('/')[0] ?? '');
}

export type AgentCode = { file: string; sourceMap: string; bytes: number; externalImports: string[] };

/** Bundles `entry` into `outFile` (plus `outFile.map`). */
export async function bundleAgentCode(outFile: string, entry: string = defaultAgentEntry): Promise<AgentCode> {
  const result = await build({
    absWorkingDir: repoRoot,
    entryPoints: [entry],
    outfile: outFile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node24',
    external: ['node:*'],
    banner: { js: esmRequireBanner },
    // Stack traces from a Pi must point at agent/… source lines (the launcher enables maps).
    sourcemap: 'linked',
    sourcesContent: false,
    legalComments: 'eof',
    metafile: true,
    logLevel: 'warning',
  });
  const output = Object.entries(result.metafile.outputs).find(([file]) => file.endsWith('.mjs') || file.endsWith('.js'));
  if (output === undefined) throw new Error('esbuild produced no JavaScript output');
  const externals = output[1].imports.filter((i) => i.external);
  const externalImports = [...new Set(externals.map((i) => i.path))].sort();
  const foreign = [...new Set(externals.filter((i) => !isNodeBuiltin(i.path) && !(optionalRequires.includes(i.path) && i.kind === 'require-call')).map((i) => i.path))];
  if (foreign.length > 0) {
    throw new Error(`The agent bundle would import ${foreign.join(', ')} at run time, but the Pi has no node_modules. Bundle them (remove them from external) or drop the import.`);
  }
  return { file: outFile, sourceMap: `${outFile}.map`, bytes: output[1].bytes, externalImports };
}
