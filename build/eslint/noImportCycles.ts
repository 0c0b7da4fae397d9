/**
 * `fieldkit/no-import-cycles`: no import cycles anywhere in the repo. Reports each import
 * that lies on a cycle, naming the cycle (a.ts → b.ts → a.ts), in every file of the cycle.
 *
 * Every relative import is an edge, type-only ones (`import type`, `export type … from`,
 * `typeof import('…')`) and literal dynamic `import('…')` included: a cycle through a type is
 * still two modules that cannot be understood, moved or tested apart. The graph is read once
 * per lint run (importGraph.ts), not once per file; the linted file's own edges come from its
 * current text, so an unsaved or virtual file is checked as written.
 *
 * Caching: whether a file is on a cycle depends on other files, which ESLint's --cache does
 * not know. eslint.config.js therefore passes `cyclesKey` (importCyclesKey: a digest of every
 * import on a cycle) in this rule's options, which ESLint hashes into its cache key: when a
 * cycle appears or goes, every file is linted again, and no stale report survives.
 */
import type { Rule } from 'eslint';
import { currentImportGraph, cycleFingerprint, cycleThrough, importSites, isOnCycle, resolveImport, withFileText } from './importGraph.ts';
import { lintedFile, rootOptionSchema, siteLocation } from './ruleContext.ts';

export const noImportCycles: Rule.RuleModule = {
  meta: {
    type: 'problem',
    docs: { description: 'No import cycles anywhere in the repo (type-only imports count).' },
    schema: [rootOptionSchema],
    messages: {
      importCycle:
        'Import cycle: {{cycle}}. Break it: move what both sides need into a module each of them imports, or pass it in (type-only imports count too).',
    },
  },
  create(context) {
    const linted = lintedFile(context);
    if (linted === undefined) return {};
    return {
      Program() {
        const text = context.sourceCode.text;
        const graph = withFileText(currentImportGraph(linted.root), linted.file, text);
        for (const site of importSites(text)) {
          const target = resolveImport(linted.file, site.specifier, graph.files);
          if (target === undefined || !isOnCycle(graph, linted.file, target)) continue;
          const cycle = cycleThrough(graph, linted.file, target).join(' → ');
          context.report({ loc: siteLocation(context, site), messageId: 'importCycle', data: { cycle } });
        }
      },
    };
  },
};

/** The `cyclesKey` option: changes exactly when the set of imports on cycles does. */
export function importCyclesKey(root: string): string {
  return cycleFingerprint(currentImportGraph(root));
}
