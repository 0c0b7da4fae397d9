/** What both fieldkit rules read from ESLint's rule context: the repo root and the linted file's place in it. */
import path from 'node:path';
import type { AST, Rule } from 'eslint';
import type { ImportSite } from './importGraph.ts';

/** The options both rules take: where the repo is (eslint.config.js passes its own folder). */
export const rootOptionSchema = {
  type: 'object',
  properties: {
    root: { type: 'string' },
    // The cycle rule's cache key (see noImportCycles.ts); the rules do not read it.
    cyclesKey: { type: 'string' },
  },
  additionalProperties: false,
} as const;

export interface LintedFile {
  root: string;
  /** Repo-relative, '/'-separated. */
  file: string;
}

/** The repo root and the linted file's path in it, or undefined for text with no path or outside the repo. */
export function lintedFile(context: Rule.RuleContext): LintedFile | undefined {
  const option: unknown = context.options[0];
  const given = typeof option === 'object' && option !== null && 'root' in option ? option.root : undefined;
  const root = typeof given === 'string' ? given : context.cwd;
  if (!path.isAbsolute(context.filename)) return undefined;
  const relative = path.relative(root, context.filename);
  if (relative === '' || relative.startsWith('..') || path.isAbsolute(relative)) return undefined;
  return { root, file: relative.split(path.sep).join('/') };
}

/** Where an import's quoted specifier sits, for a report. */
export function siteLocation(context: Rule.RuleContext, site: ImportSite): AST.SourceLocation {
  return { start: context.sourceCode.getLocFromIndex(site.start), end: context.sourceCode.getLocFromIndex(site.end) };
}
