// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';
import reactHooks from 'eslint-plugin-react-hooks';
import { defineConfig } from 'eslint/config';
// The layering rules are TypeScript, which Node runs directly only from 24 on: say so instead of crashing.
if (Number(process.versions.node.split('.')[0]) < 24) {
  throw new Error(`fieldkit's lint needs Node 24 (this is ${process.versions.node}): run \`nvm use\` (see .nvmrc) or put Node 24 first on PATH, as .ci/run does.`);
}
const { fieldkitPlugin, importCyclesKey } = await import('./build/eslint/fieldkitPlugin.ts');

/**
 * Layering (DESIGN.md): shared imports nothing of ours; renderer imports only shared;
 * agent imports only shared and Node; only electron/main.ts and electron/preload.ts
 * import 'electron'.
 */
const electronImport = { name: 'electron', message: 'Only electron/main.ts and electron/preload.ts may import electron; pass what you need in from there.' };
const nodeBuiltins = { group: ['node:*'], message: 'shared/ and renderer/ run in the browser too: no node:* imports.' };
/** @param {string[]} dirs @param {string} message */
const ours = (dirs, message) => ({ group: dirs.flatMap((d) => [`**/${d}/**`, `**/${d}`]), message });

/**
 * Inside electron/ (electron/README.md): the kernel imports no domain or face; a domain reaches
 * a sibling only through its index.ts, and no face. And no import cycles anywhere in the repo.
 * Both rules are ours: build/eslint/.
 */
const root = import.meta.dirname;

export default defineConfig(
  { ignores: ['dist/**', 'release/**', 'node_modules/**', 'test-results/**', 'coverage/**'] },
  js.configs.recommended,
  tseslint.configs.strictTypeChecked,
  {
    plugins: { fieldkit: fieldkitPlugin },
    languageOptions: {
      parserOptions: { projectService: { allowDefaultProject: ['eslint.config.js', 'electron/cli/fieldkit-bin.mjs'] }, tsconfigRootDir: import.meta.dirname },
      globals: { ...globals.node },
    },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'func-style': ['error', 'declaration', { allowArrowFunctions: true }],
      'no-restricted-imports': ['error', { paths: [electronImport] }],
      'fieldkit/no-import-cycles': ['error', { root, cyclesKey: importCyclesKey(root) }],
    },
  },
  {
    // Small modules (issue 13): a file holds one subject, a function one step. Tests and the
    // virtual site's fixtures are exempt; a source file that must be longer says why in an
    // eslint-disable comment.
    files: ['electron/**', 'shared/**', 'renderer/**', 'agent/**', 'build/**', 'bench/**'],
    rules: {
      'max-lines': ['error', { max: 400 }],
      'max-lines-per-function': ['error', { max: 100, skipBlankLines: true, skipComments: true }],
    },
  },
  {
    files: ['shared/**'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: [electronImport],
        patterns: [nodeBuiltins, ours(['electron', 'renderer', 'agent', 'test', 'build'], 'shared/ imports nothing of ours.')],
      }],
    },
  },
  {
    files: ['renderer/**'],
    languageOptions: { globals: { ...globals.browser } },
    plugins: { 'react-hooks': reactHooks },
    rules: {
      ...reactHooks.configs.recommended.rules,
      'no-restricted-imports': ['error', {
        paths: [electronImport],
        patterns: [nodeBuiltins, ours(['electron', 'agent', 'test', 'build'], 'renderer/ talks to the app only through the typed API in shared/.')],
      }],
    },
  },
  {
    files: ['agent/**'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: [electronImport],
        patterns: [ours(['electron', 'renderer', 'test', 'build'], 'agent/ runs on the Pi: it imports only shared/ and Node.')],
      }],
    },
  },
  {
    files: ['electron/**'],
    ignores: ['electron/main.ts', 'electron/preload.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: [electronImport],
        patterns: [ours(['renderer', 'agent'], 'Laptop-side code imports shared/ and Node only (the agent is reached over RPC).')],
      }],
    },
  },
  {
    files: ['electron/**'],
    rules: { 'fieldkit/electron-layers': ['error', { root }] },
  },
  {
    files: ['electron/main.ts', 'electron/preload.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [ours(['renderer', 'agent'], 'Laptop-side code imports shared/ and Node only.')] }],
    },
  },
);
