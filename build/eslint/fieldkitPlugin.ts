/**
 * fieldkit's own ESLint rules, loaded by eslint.config.js (Node runs this TypeScript
 * directly). See each rule's file for what it enforces and why.
 */
import type { ESLint } from 'eslint';
import { electronLayers } from './electronLayers.ts';
import { importCyclesKey, noImportCycles } from './noImportCycles.ts';

export const fieldkitPlugin = {
  meta: { name: 'fieldkit' },
  rules: { 'electron-layers': electronLayers, 'no-import-cycles': noImportCycles },
} satisfies ESLint.Plugin;

export { importCyclesKey };
