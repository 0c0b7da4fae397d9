/**
 * `fieldkit/electron-layers`: the layers inside electron/ (electron/README.md).
 *
 * - kernel (`electron/kernel/**`) imports only shared/, Node, npm packages and other kernel
 *   files — never a domain or a face;
 * - a domain (every other folder of electron/ but app/ and cli/, so a new folder is a domain
 *   from the day it appears) imports the kernel, shared/, its own folder, and a sibling domain
 *   only through the sibling's `index.ts` — never a face;
 * - faces (app/, cli/ and the files directly in electron/: main.ts, preload.ts) may import
 *   anything.
 *
 * What lies outside electron/ (renderer, agent, 'electron' itself) is left to the
 * no-restricted-imports rules of eslint.config.js. Type-only imports count: a kernel that
 * names a domain's type still depends on that domain.
 */
import type { Rule } from 'eslint';
import { currentImportGraph, importSites, resolveImport, type ImportSite } from './importGraph.ts';
import { lintedFile, rootOptionSchema, siteLocation } from './ruleContext.ts';

export type Place = { layer: 'kernel' } | { layer: 'face' } | { layer: 'domain'; domain: string } | { layer: 'outside' };

/** Which layer a repo-relative path is in. */
export function placeOf(file: string): Place {
  const [top, folder, ...rest] = file.split('/');
  if (top !== 'electron' || folder === undefined) return { layer: 'outside' };
  if (rest.length === 0 || folder === 'app' || folder === 'cli') return { layer: 'face' };
  if (folder === 'kernel') return { layer: 'kernel' };
  return { layer: 'domain', domain: folder };
}

type Problem = { messageId: string; data: Record<string, string> } | undefined;

export type LayerProblem = NonNullable<Problem> & { site: ImportSite };

/** The imports in `text` (the file at repo-relative `file`) that break the layers. */
export function layerProblems(file: string, text: string, files: ReadonlySet<string>): LayerProblem[] {
  const importer = placeOf(file);
  if (importer.layer !== 'kernel' && importer.layer !== 'domain') return [];
  return importSites(text).flatMap((site) => {
    const target = resolveImport(file, site.specifier, files);
    const problem = target === undefined ? undefined : problemOf(importer, target);
    return problem === undefined ? [] : [{ ...problem, site }];
  });
}

function problemOf(importer: Place, target: string): Problem {
  const place = placeOf(target);
  if (importer.layer === 'kernel') {
    if (place.layer === 'domain') return { messageId: 'kernelImportsDomain', data: { target, domain: place.domain } };
    if (place.layer === 'face') return { messageId: 'kernelImportsFace', data: { target } };
    return undefined;
  }
  if (importer.layer !== 'domain') return undefined;
  const domain = importer.domain;
  if (place.layer === 'face') return { messageId: 'domainImportsFace', data: { target, domain } };
  if (place.layer !== 'domain' || place.domain === domain) return undefined;
  const sibling = place.domain;
  if (target === `electron/${sibling}/index.ts` || target === `electron/${sibling}/index.tsx`) return undefined;
  return { messageId: 'domainReachesIntoSibling', data: { target, domain, sibling } };
}

export const electronLayers: Rule.RuleModule = {
  meta: {
    type: 'problem',
    docs: { description: 'The kernel imports no domain or face; a domain imports a sibling only through its index.ts, and no face.' },
    schema: [rootOptionSchema],
    messages: {
      kernelImportsDomain:
        'The kernel imports only shared/, Node, npm packages and other kernel files, never a domain: {{target}} is in the {{domain}} domain. Have app/ hand the kernel what it needs (as it hands it the job kinds).',
      kernelImportsFace:
        'The kernel never imports a face ({{target}}): app/, cli/, main.ts and preload.ts are built on the kernel, not the other way round.',
      domainImportsFace:
        'A domain never imports a face ({{target}}): app/, cli/, main.ts and preload.ts compose the domains, not the other way round. Move what {{domain}} needs into the kernel or into {{domain}}/.',
      domainReachesIntoSibling:
        '{{domain}} reaches into the {{sibling}} domain ({{target}}): import it from electron/{{sibling}}/index.ts, the one file that says what {{sibling}} offers the other domains.',
    },
  },
  create(context) {
    const linted = lintedFile(context);
    const layer = linted === undefined ? 'outside' : placeOf(linted.file).layer;
    if (linted === undefined || (layer !== 'kernel' && layer !== 'domain')) return {};
    return {
      Program() {
        const { files } = currentImportGraph(linted.root);
        for (const { site, messageId, data } of layerProblems(linted.file, context.sourceCode.text, files)) {
          context.report({ loc: siteLocation(context, site), messageId, data });
        }
      },
    };
  },
};
