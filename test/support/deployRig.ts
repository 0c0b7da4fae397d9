/**
 * What the deploy tests share: the agent bundle built by the real build script (signed
 * with a fresh key imported into a real trust store), variants of it at other versions or
 * with an agent that crashes at start (re-assembled from the built one, so only the
 * changed files differ), and SSH links to virtual Pis with their host keys pinned.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { assembleBundle, type BundleInput } from '../../build/agent/assembleBundle.ts';
import { defaultNodeCache } from '../../build/agent/nodeRuntime.ts';
import { importTrustedKey, listTrustedKeys } from '../../electron/kernel/trust/trustStore.ts';
import { hostKeyFingerprint } from '../../electron/kernel/link/hostKeyFingerprint.ts';
import type { Link } from '../../electron/kernel/link/linkApi.ts';
import { connectSsh } from '../../electron/kernel/link/sshLink.ts';
import { writeNewKeyPair } from '../../electron/kernel/signing/keyFiles.ts';
import { readSecretKey } from '../../electron/kernel/signing/minisign.ts';
import type { MinisignSecretKey } from '../../electron/kernel/signing/minisignFormat.ts';
import { listUstar, readUstarMember } from '../../electron/kernel/signing/ustarArchive.ts';
import { openStore } from '../../electron/kernel/store/openStore.ts';
import { agentBundleFileName, type AgentBundleManifest } from '../../shared/agentBundle.ts';
import type { TrustedKey } from '../../shared/trust.ts';
import packageJson from '../../package.json' with { type: 'json' };
import type { VirtualPi } from './virtualSite.ts';

const execFileAsync = promisify(execFile);
const repoRoot = path.join(import.meta.dirname, '..', '..');

export type AgentBundles = {
  dir: string;
  key: MinisignSecretKey;
  trustedKeys: TrustedKey[];
  /** The bundle exactly as `build/bundle-agent.ts` made it (version = package.json's). */
  base: { archive: string; version: string };
  /**
   * The base bundle re-assembled at `version`, its agent reporting that version; `crash`:
   * the agent exits 1 at start; `extraBytes`: plus a file of that many random bytes (a big upload);
   * `journalMigration`: one more journal migration (SQL) appended to the agent's schema
   * history; `daemonExitsAfterMs`: the daemon (`run`) exits 1 that long after it started
   * (after opening — and migrating — the journal), the other commands work.
   */
  variant(version: string, options?: { crash?: boolean; extraBytes?: number; journalMigration?: string; daemonExitsAfterMs?: number }): Promise<string>;
};

/** A cached Node version (no registry round trip), else the newest 24.x from the registry. */
function nodeRange(): string {
  const dir = path.join(process.env.FIELDKIT_AGENT_NODE_CACHE ?? defaultNodeCache, 'x64');
  if (!existsSync(dir)) return '24';
  const cached = readdirSync(dir).filter((v) => /^24\.\d+\.\d+$/.test(v) && existsSync(path.join(dir, v, '.complete')));
  return cached.sort().at(-1) ?? '24';
}

export async function buildAgentBundles(dir: string): Promise<AgentBundles> {
  const keys = await writeNewKeyPair(path.join(dir, 'keys'), 'deploy-test');
  const out = path.join(dir, 'dist');
  await execFileAsync(process.execPath, [path.join(repoRoot, 'build', 'bundle-agent.ts'), '--arch', 'x64', '--key', keys.secretKeyFile, '--out', out, '--node', nodeRange()], { cwd: repoRoot });
  const key = await readSecretKey(keys.secretKeyFile);
  const store = openStore(path.join(dir, 'laptop'));
  importTrustedKey(store, readFileSync(keys.publicKeyFile, 'utf8'), 'deploy test key');
  const trustedKeys = listTrustedKeys(store);
  store.close();
  const version = packageJson.version;
  const archive = path.join(out, agentBundleFileName(version, 'x64'));

  const members = await listUstar(archive);
  const [manifestMember] = members;
  if (manifestMember === undefined) throw new Error(`${archive} is empty`);
  const manifest = JSON.parse((await readUstarMember(archive, manifestMember)).toString('utf8')) as AgentBundleManifest;
  const contents = new Map<string, Buffer>();
  for (const member of members.slice(2)) if (member.type === 'file') contents.set(member.path, await readUstarMember(archive, member));

  return {
    dir,
    key,
    trustedKeys,
    base: { archive, version },
    async variant(newVersion, options = {}) {
      const inputs: BundleInput[] = manifest.files.map((file) => {
        let bytes = contents.get(file.path) ?? Buffer.alloc(0);
        if (file.path === 'lib/agent.mjs') {
          // The version esbuild inlined from package.json: what hello reports.
          let code = bytes.toString('utf8').replace(`version: ${JSON.stringify(version)},`, `version: ${JSON.stringify(newVersion)},`);
          if (options.crash === true) code = `console.error("fieldkit-agent ${newVersion}: crashing at start on purpose (deploy test)"); process.exit(1);\n${code}`;
          if (options.journalMigration !== undefined) {
            const patched = code.replace(/(journalMigrations = \[[\s\S]*?)(\n\s*\];)/, (_all, head: string, end: string) => `${head},\n  ${JSON.stringify(options.journalMigration)}${end}`);
            if (patched === code) throw new Error('no journalMigrations array in lib/agent.mjs');
            code = patched;
          }
          if (options.daemonExitsAfterMs !== undefined) {
            code = `if (process.argv[2] === "run") setTimeout(() => { console.error("fieldkit-agent ${newVersion}: daemon exiting on purpose (deploy test)"); process.exit(1); }, ${String(options.daemonExitsAfterMs)}).unref();\n${code}`;
          }
          bytes = Buffer.from(code);
        }
        if (file.path.startsWith('systemd/')) bytes = Buffer.from(bytes.toString('utf8').replaceAll(` ${version} bundle`, ` ${newVersion} bundle`));
        return { path: file.path, mode: file.mode, source: { kind: 'bytes', bytes } };
      });
      if (options.extraBytes !== undefined) inputs.push({ path: 'lib/ballast.bin', mode: 0o644, source: { kind: 'bytes', bytes: randomBytes(options.extraBytes) } });
      const target = path.join(out, agentBundleFileName(newVersion, 'x64'));
      await assembleBundle(target, inputs, { version: newVersion, arch: 'x64', nodeVersion: manifest.node_version, sourceDateEpoch: Date.parse(manifest.created_at) / 1000, sourceCommit: manifest.source_commit, install: manifest.install }, key);
      return target;
    },
  };
}

/** An SSH link to a virtual Pi as `pi`, its host key pinned. */
export async function linkTo(pi: VirtualPi): Promise<Link> {
  return connectSsh({
    target: { host: pi.host, port: pi.sshPort, username: pi.user },
    appKey: { privateKey: readFileSync(pi.privateKeyPath, 'utf8'), publicKey: pi.publicKey, path: pi.privateKeyPath },
    hostKey: { pinned: hostKeyFingerprint(Buffer.from(pi.hostKeyPublic.split(' ')[1] ?? '', 'base64')) },
  });
}

/** Runs a command on the Pi and returns its stdout; throws with the output when it fails. */
export async function onPi(pi: VirtualPi, command: string): Promise<string> {
  const result = await pi.exec(command);
  if (result.code !== 0) throw new Error(`${pi.name}: \`${command}\` exited ${String(result.code)}: ${result.stderr}${result.stdout}`);
  return result.stdout;
}
