/**
 * fieldkit's own ESLint rules, loaded by eslint.config.js (Node runs this TypeScript
 * directly). See each rule's file for what it enforces and why.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { ESLint } from 'eslint';
import { electronLayers } from './electronLayers.ts';
import { importCyclesKey, noImportCycles } from './noImportCycles.ts';

/**
 * A digest of the rules' own source. ESLint's --cache keys its results on the plugins'
 * name and version, so an edit to a rule here makes the next `npm run lint` lint every file
 * again instead of replaying results the old rule produced.
 */
function sourceDigest(): string {
  const hash = createHash('sha256');
  for (const file of readdirSync(import.meta.dirname).filter((name) => name.endsWith('.ts')).sort()) {
    hash.update(file).update(readFileSync(path.join(import.meta.dirname, file)));
  }
  return hash.digest('hex').slice(0, 16);
}

export const fieldkitPlugin = {
  meta: { name: 'fieldkit', version: sourceDigest() },
  rules: { 'electron-layers': electronLayers, 'no-import-cycles': noImportCycles },
} satisfies ESLint.Plugin;

export { importCyclesKey };
