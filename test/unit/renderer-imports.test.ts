import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The import graph between renderer folders (renderer/src/README.md):
 *   api/, format/            import no other renderer folder
 *   ui/                      api/, format/
 *   jobs/                    api/, format/, ui/ — never a domain: domains register their job summaries
 *   domains                  api/, format/, ui/, jobs/, and a sibling domain only through its index.ts
 *   shell/, main.tsx         compose everything
 * and no cycle between folders.
 */
const rendererSrc = resolve(import.meta.dirname, '../../renderer/src');
const base = new Set(['api', 'format', 'styles', 'assets']);
const allowed: Record<string, ReadonlySet<string>> = {
  api: new Set(),
  format: new Set(),
  ui: new Set(['api', 'format', 'styles']),
  jobs: new Set(['api', 'format', 'ui']),
};
const domains = new Set(['devices', 'drives', 'flash', 'courier', 'backup', 'recovery', 'deploy', 'health', 'settings', 'demo']);
const faces = new Set(['shell', '.']);

type SourceImport = { from: string; to: string };

/** Every relative import of a renderer source file, as paths under renderer/src. */
function rendererImports(): SourceImport[] {
  const files = readdirSync(rendererSrc, { recursive: true, encoding: 'utf8' }).filter((f) => /\.(ts|tsx)$/.test(f));
  return files.flatMap((file) => {
    const text = readFileSync(join(rendererSrc, file), 'utf8');
    return [...text.matchAll(/(?:from|import)\s+'(\.[^']+)'/g)].flatMap((m) => {
      const target = relative(rendererSrc, resolve(rendererSrc, dirname(file), m[1] ?? ''));
      return target.startsWith('..') ? [] : [{ from: file, to: target }];
    });
  });
}

function folderOf(path: string): string {
  return path.includes('/') ? (path.split('/')[0] ?? '.') : '.';
}

/** The imports that break the rules above, worded for the failure message. */
function violations(imports: readonly SourceImport[]): string[] {
  return imports.flatMap(({ from, to }) => {
    const a = folderOf(from);
    const b = folderOf(to);
    if (a === b || faces.has(a)) return [];
    if (domains.has(a)) {
      if (base.has(b) || b === 'ui' || b === 'jobs') return [];
      if (domains.has(b) && to === `${b}/index.ts`) return [];
      return [`${from} imports ${to}: a domain reaches ${b}/ only through ${b}/index.ts`];
    }
    if (allowed[a]?.has(b) === true) return [];
    return [`${from} imports ${to}: ${a}/ may import only ${[...(allowed[a] ?? [])].join(', ') || 'nothing of the renderer'}`];
  });
}

/** Folder-level cycles (a → b → … → a), each as its path. */
function cycles(imports: readonly SourceImport[]): string[] {
  const edges = new Map<string, Set<string>>();
  for (const { from, to } of imports) {
    const a = folderOf(from);
    const b = folderOf(to);
    if (a !== b) edges.set(a, (edges.get(a) ?? new Set()).add(b));
  }
  const found: string[] = [];
  const walk = (node: string, path: string[]): void => {
    for (const next of edges.get(node) ?? []) {
      if (next === path[0]) found.push([...path, next].join(' → '));
      else if (!path.includes(next)) walk(next, [...path, next]);
    }
  };
  for (const start of edges.keys()) walk(start, [start]);
  return found;
}

describe('renderer folders', () => {
  const imports = rendererImports();

  it('import each other only as renderer/src/README.md says', () => {
    expect(imports.length).toBeGreaterThan(100);
    expect(violations(imports)).toEqual([]);
  });

  it('have no import cycle between them', () => {
    expect(cycles(imports)).toEqual([]);
  });

  it('the rules bite: jobs/ importing a domain, a deep import into a sibling, ui/ importing devices/, a cycle', () => {
    expect(violations([{ from: 'jobs/jobSummary.ts', to: 'courier/courierOutcomes.ts' }])).toHaveLength(1);
    expect(violations([{ from: 'deploy/DeployScreen.tsx', to: 'devices/useDevices.ts' }])).toHaveLength(1);
    expect(violations([{ from: 'deploy/DeployScreen.tsx', to: 'devices/index.ts' }])).toHaveLength(0);
    expect(violations([{ from: 'ui/ReasonDialog.tsx', to: 'devices/FormField.tsx' }])).toHaveLength(1);
    expect(violations([{ from: 'api/hooks.ts', to: 'ui/ErrorNotice.tsx' }])).toHaveLength(1);
    expect(
      cycles([
        { from: 'drives/DrivesScreen.tsx', to: 'flash/index.ts' },
        { from: 'flash/FlashPanel.tsx', to: 'drives/index.ts' },
      ]),
    ).not.toEqual([]);
  });
});
