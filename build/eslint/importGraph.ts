/**
 * The repo's import graph as the lint rules see it: every source file under the repo root
 * (node_modules, build output and dot-folders left out), and an edge for every relative
 * import in it — static, `export … from`, `import type`, `typeof import('…')` and a
 * dynamic `import('…')` with a literal specifier alike. Type-only imports are edges too:
 * they tie two modules' designs together just as a value import does, and a cycle that is
 * type-only today becomes a runtime one the day someone imports a value.
 *
 * Specifiers are read with TypeScript's import scanner (`ts.preProcessFile`), which skips
 * comments, strings and template literals, so a file is scanned in well under a
 * millisecond and the whole repo in a fraction of a second. The repo writes relative
 * imports with their extension (`./foo.ts`); resolution also tries `.ts`/`.tsx` and
 * `/index.ts` for the odd extensionless one, and maps `.js` onto a `.ts` file beside it.
 *
 * Cycles are the strongly connected components of the graph (Tarjan): an import lies on a
 * cycle when its two ends share a component; the cycle it is named by is the shortest way
 * back from its target to its importer.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

/** One import in a file's text: its specifier and where the quoted specifier sits. */
export interface ImportSite {
  specifier: string;
  /** Offsets of the quoted specifier in the text. */
  start: number;
  end: number;
}

export interface ImportGraph {
  /** Repo-relative, '/'-separated paths of the source files on disk. */
  readonly files: ReadonlySet<string>;
  /** What each file's edges were read from, to tell whether a linted text differs. */
  readonly texts: ReadonlyMap<string, string>;
  readonly edges: ReadonlyMap<string, readonly string[]>;
  /** Component id of each file; files of a component of one (and no self-import) are on no cycle. */
  readonly component: ReadonlyMap<string, number>;
  readonly componentSize: ReadonlyMap<number, number>;
}

const sourceExtensions = ['.ts', '.tsx', '.mts', '.cts', '.js', '.jsx', '.mjs', '.cjs'];
const skippedFolders = new Set(['node_modules', 'dist', 'release', 'test-results', 'coverage']);

function isSource(file: string): boolean {
  return sourceExtensions.includes(path.extname(file));
}

/** The imports written in a module's text (bare specifiers such as 'node:fs' included). */
export function importSites(text: string): ImportSite[] {
  return ts.preProcessFile(text, true, true).importedFiles.map((ref) => ({
    specifier: ref.fileName,
    start: ref.pos,
    // pos is the opening quote; the quoted specifier is two characters longer than the name.
    end: ref.pos + ref.fileName.length + 2,
  }));
}

/**
 * The repo-relative source file a specifier written in `importer` names, or undefined for a
 * package, a Node built-in, a non-source asset (.css, .svg, .json) or a path leaving the repo.
 * A source path that is not on disk is still returned: a file being linted before it is saved
 * (or a probe in a test) is a node of the graph like any other.
 */
export function resolveImport(importer: string, specifier: string, files: ReadonlySet<string>): string | undefined {
  if (!specifier.startsWith('./') && !specifier.startsWith('../')) return undefined;
  const target = path.posix.normalize(path.posix.join(path.posix.dirname(importer), specifier.replace(/[?#].*$/, '')));
  if (target.startsWith('../')) return undefined;
  if (files.has(target)) return target;
  const extension = path.posix.extname(target);
  if (extension === '.js' || extension === '.jsx') {
    const typed = target.slice(0, -extension.length) + (extension === '.js' ? '.ts' : '.tsx');
    if (files.has(typed)) return typed;
  }
  for (const candidate of ['.ts', '.tsx', '/index.ts', '/index.tsx'].map((suffix) => target + suffix)) {
    if (files.has(candidate)) return candidate;
  }
  return isSource(target) ? target : undefined;
}

function listSourceFiles(root: string): string[] {
  const found: string[] = [];
  const walk = (relativeDir: string): void => {
    for (const entry of readdirSync(path.join(root, relativeDir), { withFileTypes: true })) {
      const relative = relativeDir === '' ? entry.name : `${relativeDir}/${entry.name}`;
      if (entry.isDirectory()) {
        if (!entry.name.startsWith('.') && !skippedFolders.has(entry.name)) walk(relative);
      } else if (entry.isFile() && isSource(entry.name)) {
        found.push(relative);
      }
    }
  };
  walk('');
  return found;
}

function edgesOf(file: string, text: string, files: ReadonlySet<string>): string[] {
  const targets = importSites(text).map((site) => resolveImport(file, site.specifier, files));
  return [...new Set(targets.filter((target) => target !== undefined))];
}

/** Tarjan's strongly connected components, iterative so a deep import chain cannot overflow the stack. */
function components(edges: ReadonlyMap<string, readonly string[]>): Pick<ImportGraph, 'component' | 'componentSize'> {
  const index = new Map<string, number>();
  const lowLink = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const component = new Map<string, number>();
  const componentSize = new Map<number, number>();
  let counter = 0;
  const visit = (start: string): void => {
    const work: { node: string; next: number }[] = [{ node: start, next: 0 }];
    index.set(start, counter);
    lowLink.set(start, counter++);
    stack.push(start);
    onStack.add(start);
    while (work.length > 0) {
      const frame = work[work.length - 1];
      if (frame === undefined) break;
      const targets = edges.get(frame.node) ?? [];
      const target = targets[frame.next++];
      if (target !== undefined) {
        if (!index.has(target)) {
          index.set(target, counter);
          lowLink.set(target, counter++);
          stack.push(target);
          onStack.add(target);
          work.push({ node: target, next: 0 });
        } else if (onStack.has(target)) {
          lowLink.set(frame.node, Math.min(lowLink.get(frame.node) ?? 0, index.get(target) ?? 0));
        }
        continue;
      }
      work.pop();
      if (lowLink.get(frame.node) === index.get(frame.node)) {
        const id = componentSize.size;
        let size = 0;
        let member: string | undefined;
        do {
          member = stack.pop();
          if (member === undefined) break;
          onStack.delete(member);
          component.set(member, id);
          size += 1;
        } while (member !== frame.node);
        componentSize.set(id, size);
      }
      const parent = work[work.length - 1];
      if (parent !== undefined) lowLink.set(parent.node, Math.min(lowLink.get(parent.node) ?? 0, lowLink.get(frame.node) ?? 0));
    }
  };
  for (const node of edges.keys()) if (!index.has(node)) visit(node);
  return { component, componentSize };
}

function graphOf(texts: ReadonlyMap<string, string>, files: ReadonlySet<string>): ImportGraph {
  const edges = new Map<string, string[]>();
  for (const [file, text] of texts) edges.set(file, edgesOf(file, text, files));
  return { files, texts, edges, ...components(edges) };
}

function graphFromDisk(root: string, list: readonly string[]): ImportGraph {
  const texts = new Map(list.map((file) => [file, readFileSync(path.join(root, file), 'utf8')]));
  return graphOf(texts, new Set(list));
}

/** Reads the repo's source files and builds their graph. */
export function buildImportGraph(root: string): ImportGraph {
  return graphFromDisk(root, listSourceFiles(root));
}

/** The graph with one file's text replaced (a file being linted that differs from disk, or is not on disk). */
export function withFileText(graph: ImportGraph, file: string, text: string): ImportGraph {
  if (graph.texts.get(file) === text) return graph;
  const texts = new Map(graph.texts);
  texts.set(file, text);
  const edges = new Map(graph.edges);
  edges.set(file, edgesOf(file, text, graph.files));
  return { files: graph.files, texts, edges, ...components(edges) };
}

/** Whether the import from → to lies on a cycle. */
export function isOnCycle(graph: ImportGraph, from: string, to: string): boolean {
  const id = graph.component.get(from);
  if (id === undefined || id !== graph.component.get(to)) return false;
  return from === to || (graph.componentSize.get(id) ?? 0) > 1;
}

/** The cycle the import from → to closes, as [from, to, …, from]: the shortest way back from `to`. */
export function cycleThrough(graph: ImportGraph, from: string, to: string): string[] {
  if (from === to) return [from, from];
  const id = graph.component.get(from);
  const cameFrom = new Map<string, string>();
  const queue = [to];
  for (let head = 0; head < queue.length && !cameFrom.has(from); head++) {
    const node = queue[head];
    if (node === undefined) break;
    for (const next of graph.edges.get(node) ?? []) {
      if (next === to || cameFrom.has(next) || graph.component.get(next) !== id) continue;
      cameFrom.set(next, node);
      queue.push(next);
    }
  }
  const back: string[] = [];
  for (let node: string | undefined = from; node !== undefined && node !== to; node = cameFrom.get(node)) back.unshift(node);
  return [from, to, ...back];
}

/** Every import on a cycle, one per line, sorted: what changes exactly when the set of cycles does. */
export function cycleFingerprint(graph: ImportGraph): string {
  const onCycles: string[] = [];
  for (const [from, targets] of graph.edges) {
    for (const to of targets) if (isOnCycle(graph, from, to)) onCycles.push(`${from} -> ${to}`);
  }
  if (onCycles.length === 0) return 'no cycles';
  return createHash('sha256').update(onCycles.sort().join('\n')).digest('hex').slice(0, 16);
}

/**
 * How long one reading of the repo is trusted without a look at the disk. After that, the
 * source files are listed and stat'ed again (a few milliseconds) and read again only if one
 * was added, removed or changed: a whole-repo lint reads the repo once, and a long-lived
 * process (an editor's ESLint server) sees other files' saved changes within this time. The
 * file being linted is always taken from its current text (`withFileText`), saved or not.
 */
const trustedForMs = 5_000;
const graphs = new Map<string, { graph: ImportGraph; stamp: string; checkedAt: number }>();

/** What changes when a source file is added, removed or written. */
function diskStamp(root: string, files: readonly string[]): string {
  return files.map((file) => {
    const stat = statSync(path.join(root, file));
    return `${file}\0${stat.mtimeMs}\0${stat.size}`;
  }).join('\n');
}

/** The graph of the repo at `root` as it is on disk now (give or take `trustedForMs`). */
export function currentImportGraph(root: string): ImportGraph {
  const cached = graphs.get(root);
  if (cached !== undefined && Date.now() - cached.checkedAt < trustedForMs) return cached.graph;
  const list = listSourceFiles(root);
  const stamp = diskStamp(root, list);
  if (cached?.stamp === stamp) {
    cached.checkedAt = Date.now();
    return cached.graph;
  }
  const graph = graphFromDisk(root, list);
  graphs.set(root, { graph, stamp, checkedAt: Date.now() });
  return graph;
}
