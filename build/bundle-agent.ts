/**
 * Builds the signed edge-agent bundles: `fieldkit-agent-<version>-linux-<arch>.tar`, each
 * holding manifest.json (every file's SHA-256, size and mode), manifest.json.minisig, the
 * launcher, the esbuild bundle of agent/main.ts, the Node 24 runtime for that arch (from the
 * npm registry, cached), the systemd unit and an example config. Plus `<tar>.minisig`.
 *
 *   node build/bundle-agent.ts --arch x64|arm64|all [--key <secret key>] [--out dist/agent]
 *        [--prefix /opt/fieldkit-agent] [--data-dir /var/lib/fieldkit-agent]
 *        [--config-path /etc/fieldkit-agent/config.json] [--node 24|<x.y.z>]
 *
 * A password-protected key takes its password from FIELDKIT_KEY_PASSWORD.
 * Without --key the bundles are signed with a development key kept in node_modules/.cache
 * (made on first use, never committed); devices that trust only release keys refuse them.
 * Output is deterministic for a commit: mtimes, created_at and the signature's timestamp all
 * come from SOURCE_DATE_EPOCH or the commit time.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { agentBundleFileName, AgentArchSchema, type AgentArch, type AgentBundleManifest } from '../shared/agentBundle.ts';
import { formatKeyId, keyPasswordVariable, type MinisignSecretKey } from '../electron/kernel/signing/minisignFormat.ts';
import { readSecretKey } from '../electron/kernel/signing/minisign.ts';
import { writeNewKeyPair } from '../electron/kernel/signing/keyFiles.ts';
import { isFieldkitError } from '../shared/errors.ts';
import packageJson from '../package.json' with { type: 'json' };
import { assembleBundle, type BundleInput } from './agent/assembleBundle.ts';
import { bundleAgentCode, defaultAgentEntry } from './agent/bundleAgentCode.ts';
import { checkLayout, defaultLayout, exampleConfigText, launcherScript, renderSystemdUnit, type InstallLayout } from './agent/installFiles.ts';
import { defaultNodeCache, nodeRuntime, resolveNodeVersion } from './agent/nodeRuntime.ts';

const execFileAsync = promisify(execFile);
const repoRoot = path.join(import.meta.dirname, '..');
export const defaultOutDir = path.join(repoRoot, 'dist', 'agent');
export const devKeyDir = path.join(repoRoot, 'node_modules', '.cache', 'fieldkit-agent-dev-key');

export type BundleAgentOptions = {
  arches: AgentArch[];
  outDir: string;
  layout: InstallLayout;
  /** A secret key file; null signs with the development key. */
  keyFile: string | null;
  nodeRange: string;
  entry: string;
  nodeCacheDir: string;
  log: (line: string) => void;
};

export type BuiltBundle = { arch: AgentArch; archive: string; bytes: number; manifest: AgentBundleManifest };

async function git(args: string[]): Promise<string | null> {
  try {
    return (await execFileAsync('git', args, { cwd: repoRoot })).stdout.trim();
  } catch {
    return null;
  }
}

/** SOURCE_DATE_EPOCH (the reproducible-builds convention), else the commit time, else 1980. */
async function sourceDateEpoch(): Promise<number> {
  const fromEnv = process.env.SOURCE_DATE_EPOCH;
  if (fromEnv !== undefined && /^\d+$/.test(fromEnv)) return Number(fromEnv);
  const commitTime = await git(['log', '-1', '--format=%ct']);
  return commitTime !== null && /^\d+$/.test(commitTime) ? Number(commitTime) : 315532800;
}

async function sourceCommit(): Promise<string | null> {
  const commit = await git(['rev-parse', 'HEAD']);
  if (commit === null) return null;
  const changes = await git(['status', '--porcelain', '--untracked-files=no']);
  return changes === '' ? commit : `${commit}+dirty`;
}

async function signingKey(keyFile: string | null, log: (line: string) => void): Promise<{ key: MinisignSecretKey; development: boolean; publicKeyFile: string | null }> {
  if (keyFile !== null) return { key: await readSecretKey(keyFile, process.env[keyPasswordVariable]), development: false, publicKeyFile: null };
  const secret = path.join(devKeyDir, 'fieldkit-dev.key');
  if (!existsSync(secret)) {
    try {
      await writeNewKeyPair(devKeyDir, 'fieldkit-dev');
      log(`made a development signing key in ${path.relative(process.cwd(), devKeyDir)}`);
    } catch (error) {
      // A build running beside this one made it first: use theirs.
      if (!isFieldkitError(error) || error.appError.code !== 'CONFLICT') throw error;
    }
  }
  return { key: await readSecretKey(secret), development: true, publicKeyFile: path.join(devKeyDir, 'fieldkit-dev.pub') };
}

function devKeyWarning(key: MinisignSecretKey, publicKeyFile: string | null): string {
  const bar = '!'.repeat(78);
  return [
    bar,
    `!! SIGNED WITH THE DEVELOPMENT KEY ${formatKeyId(key.keyId)} (no --key given).`,
    `!! Its secret half sits unprotected in ${path.relative(process.cwd(), devKeyDir)}; only this machine trusts it.`,
    `!! Verify with: fieldkit verify <tar> --pub ${publicKeyFile === null ? '' : path.relative(process.cwd(), publicKeyFile)}`,
    '!! For a release, sign with the release key: --key <secret key file>.',
    bar,
  ].join('\n');
}

/** Builds the bundles; returns where they are. */
export async function bundleAgent(options: BundleAgentOptions): Promise<BuiltBundle[]> {
  const { log } = options;
  const layout = checkLayout(options.layout);
  const signing = await signingKey(options.keyFile, log);
  if (signing.development) log(devKeyWarning(signing.key, signing.publicKeyFile));
  const version = packageJson.version;
  const [epoch, commit] = await Promise.all([sourceDateEpoch(), sourceCommit()]);

  await mkdir(options.outDir, { recursive: true });
  const staging = await mkdtemp(path.join(options.outDir, '.staging-'));
  try {
    const code = await bundleAgentCode(path.join(staging, 'agent.mjs'), options.entry);
    log(`bundled ${path.relative(repoRoot, options.entry)}: ${(code.bytes / 1024).toFixed(0)} kB, leaves outside only ${code.externalImports.join(', ') || 'nothing'}`);
    const nodeVersion = /^\d+\.\d+\.\d+$/.test(options.nodeRange)
      ? options.nodeRange
      : await resolveNodeVersion(options.arches, { cacheDir: options.nodeCacheDir, range: options.nodeRange, log });

    const built: BuiltBundle[] = [];
    for (const arch of options.arches) {
      const runtime = await nodeRuntime(arch, nodeVersion, { cacheDir: options.nodeCacheDir, log });
      const inputs: BundleInput[] = [
        { path: 'bin/fieldkit-agent', mode: 0o755, source: { kind: 'bytes', bytes: Buffer.from(launcherScript()) } },
        { path: 'lib/agent.mjs', mode: 0o644, source: { kind: 'file', path: code.file } },
        { path: 'lib/agent.mjs.map', mode: 0o644, source: { kind: 'file', path: code.sourceMap } },
        { path: 'node/bin/node', mode: 0o755, source: { kind: 'file', path: runtime.binary } },
        { path: 'node/LICENSE', mode: 0o644, source: { kind: 'file', path: runtime.license } },
        { path: 'systemd/fieldkit-agent.service', mode: 0o644, source: { kind: 'bytes', bytes: Buffer.from(renderSystemdUnit(layout, version, arch)) } },
        { path: 'config/config.example.json', mode: 0o644, source: { kind: 'bytes', bytes: Buffer.from(exampleConfigText(layout)) } },
      ];
      const archive = path.join(options.outDir, agentBundleFileName(version, arch));
      const assembled = await assembleBundle(
        archive,
        inputs,
        { version, arch, nodeVersion: runtime.version, sourceDateEpoch: epoch, sourceCommit: commit, install: { prefix: layout.prefix, data_dir: layout.dataDir, config_path: layout.configPath } },
        signing.key,
      );
      const { size } = await stat(archive);
      built.push({ arch, archive, bytes: size, manifest: assembled.manifest });
      log(`${path.relative(process.cwd(), archive)}  ${(size / 1024 / 1024).toFixed(1)} MB  Node ${runtime.version}  signed by ${formatKeyId(signing.key.keyId)}`);
    }
    if (signing.development) log(devKeyWarning(signing.key, signing.publicKeyFile));
    return built;
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

function usage(message: string): never {
  process.stderr.write(
    `error: ${message}\nusage: node build/bundle-agent.ts --arch x64|arm64|all [--key <secret key>] [--out <dir>] [--prefix <dir>] [--data-dir <dir>] [--config-path <file>] [--node 24|<x.y.z>]\n`,
  );
  process.exit(2);
}

if (import.meta.main) {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        arch: { type: 'string', default: 'all' },
        key: { type: 'string' },
        out: { type: 'string' },
        prefix: { type: 'string', default: defaultLayout.prefix },
        'data-dir': { type: 'string', default: defaultLayout.dataDir },
        'config-path': { type: 'string', default: defaultLayout.configPath },
        node: { type: 'string', default: '24' },
        entry: { type: 'string' },
      },
    }));
  } catch (error) {
    usage((error as Error).message);
  }
  const arches = values.arch === 'all' ? AgentArchSchema.options : AgentArchSchema.safeParse(values.arch).success ? [values.arch as AgentArch] : usage(`--arch must be x64, arm64 or all, not ${values.arch}`);
  try {
    await bundleAgent({
      arches: [...arches],
      outDir: values.out === undefined ? defaultOutDir : path.resolve(values.out),
      layout: { prefix: values.prefix, dataDir: values['data-dir'], configPath: values['config-path'] },
      keyFile: values.key ?? null,
      nodeRange: values.node,
      entry: values.entry === undefined ? defaultAgentEntry : path.resolve(values.entry),
      nodeCacheDir: process.env.FIELDKIT_AGENT_NODE_CACHE ?? defaultNodeCache,
      log: (line) => process.stderr.write(line + '\n'),
    });
  } catch (error) {
    if (isFieldkitError(error)) process.stderr.write(`error: ${error.appError.message}\nwhat to do: ${error.appError.hint}\n`);
    else process.stderr.write(`error: ${(error as Error).message}\n`);
    process.exit(1);
  }
}
