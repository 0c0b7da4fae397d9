/**
 * The real agent bundles, end to end: build/bundle-agent.ts builds x64 and arm64 from
 * agent/main.ts and the npm registry (Node runtimes cached in node_modules/.cache between
 * runs), `fieldkit verify` and the stock `minisign -V` accept them, a tampered file is
 * refused by name, and each bundle runs on its own Node 24 from a temp install prefix: x64
 * natively, arm64 under qemu-user through binfmt_misc, as a Pi would exec it.
 */
import { execFile, spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeNewKeyPair } from '../../electron/kernel/signing/keyFiles.ts';
import { AgentBundleManifestSchema, type AgentArch } from '../../shared/agentBundle.ts';
import { AgentConfigSchema } from '../../shared/agentConfig.ts';
import { JournalRecordSchema } from '../../shared/journal.ts';
import packageJson from '../../package.json' with { type: 'json' };
import { ensureQemuAarch64 } from '../support/qemu.ts';
import { runCliProcess } from '../support/runCliProcess.ts';
import { makeTempDir } from '../support/tempDir.ts';

const execFileAsync = promisify(execFile);
const repoRoot = path.join(import.meta.dirname, '..', '..');
const dir = makeTempDir('fieldkit-agent-bundle-');
const at = (...parts: string[]) => path.join(dir.path, ...parts);
const version = packageJson.version;
const prefixOf = (arch: AgentArch) => at(`opt-${arch}`, 'fieldkit-agent');
const layout = { dataDir: at('var', 'lib', 'fieldkit-agent'), configPath: at('etc', 'fieldkit-agent', 'config.json') };
const tarOf = (arch: AgentArch) => at('dist', `fieldkit-agent-${version}-linux-${arch}.tar`);
const publicKey = at('keys', 'fieldkit.pub');

type Run = { code: number | null; stdout: string; stderr: string };

/** Runs a program with optional stdin, collecting its output. */
function run(command: string, args: readonly string[], options: { env?: Record<string, string>; input?: string; cwd?: string } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd ?? dir.path, env: { ...process.env, ...options.env }, stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => {
      resolve({ code, stdout, stderr });
    });
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
}

/**
 * A module preloaded into the bundled Node through NODE_OPTIONS: it reports which runtime
 * actually runs (path, version, arch) on stderr, whatever the agent itself prints.
 */
const probe = at('probe.mjs');
function probed(stderr: string): { execPath: string; version: string; arch: string } {
  const line = stderr.split('\n').find((l) => l.startsWith('PROBE '));
  if (line === undefined) throw new Error(`the runtime probe did not report; stderr:\n${stderr}`);
  return JSON.parse(line.slice('PROBE '.length)) as { execPath: string; version: string; arch: string };
}

function elfMachine(file: string): number {
  const fd = openSync(file, 'r');
  try {
    const header = Buffer.alloc(20);
    readSync(fd, header, 0, 20, 0);
    return header.readUInt16LE(18);
  } finally {
    closeSync(fd);
  }
}

async function unpack(arch: AgentArch): Promise<string> {
  const prefix = prefixOf(arch);
  mkdirSync(prefix, { recursive: true });
  await execFileAsync('tar', ['-xf', tarOf(arch), '-C', prefix]);
  return prefix;
}

beforeAll(async () => {
  const keys = await writeNewKeyPair(at('keys'));
  writeFileSync(probe, "process.stderr.write('PROBE ' + JSON.stringify({ execPath: process.execPath, version: process.version, arch: process.arch }) + '\\n');\n");
  const build = await run(
    process.execPath,
    [
      path.join(repoRoot, 'build', 'bundle-agent.ts'),
      '--arch', 'all',
      '--key', keys.secretKeyFile,
      '--out', at('dist'),
      '--prefix', prefixOf('x64'),
      '--data-dir', layout.dataDir,
      '--config-path', layout.configPath,
    ],
    { cwd: repoRoot },
  );
  if (build.code !== 0) throw new Error(`build/bundle-agent.ts failed:\n${build.stderr}`);
  await Promise.all([unpack('x64'), unpack('arm64')]);
}, 240_000);

afterAll(() => {
  dir.remove();
});

describe('build/bundle-agent.ts', () => {
  it.each(['x64', 'arm64'] as const)('builds the %s bundle with that arch’s Node 24 and a manifest listing every file', (arch) => {
    const manifest = AgentBundleManifestSchema.parse(JSON.parse(readFileSync(path.join(prefixOf(arch), 'manifest.json'), 'utf8')));
    expect(manifest).toMatchObject({ product: 'fieldkit-agent', version, arch });
    expect(manifest.node_version).toMatch(/^v24\./);
    expect(manifest.files.map((f) => f.path)).toEqual([
      'bin/fieldkit-agent',
      'config/config.example.json',
      'lib/agent.mjs',
      'lib/agent.mjs.map',
      'node/LICENSE',
      'node/bin/node',
      'systemd/fieldkit-agent.service',
    ]);
    expect(elfMachine(path.join(prefixOf(arch), 'node', 'bin', 'node'))).toBe(arch === 'x64' ? 0x3e : 0xb7);
  });

  it('bundles the agent into one file that imports only Node built-ins', () => {
    const code = readFileSync(path.join(prefixOf('x64'), 'lib', 'agent.mjs'), 'utf8');
    const specifiers = [...code.matchAll(/(?:^|[;\n])\s*import\s*(?:[^'"();]*?\bfrom\s*)?["']([^"']+)["']/g)].map((m) => m[1]);
    expect(specifiers.length).toBeGreaterThan(0);
    expect(specifiers.filter((s) => s?.startsWith('node:') !== true)).toEqual([]);
    expect(code).toContain('node:sqlite');
  });
});

describe('build/bundle-agent.ts without the network', () => {
  const offline = { npm_config_registry: 'http://127.0.0.1:9/', npm_config_fetch_retries: '0' };

  it('builds from the cached runtime when the registry is unreachable, and says so (dev key, loudly)', async () => {
    const build = await run(process.execPath, [path.join(repoRoot, 'build', 'bundle-agent.ts'), '--arch', 'arm64', '--out', at('dist-offline')], { cwd: repoRoot, env: offline });
    expect(build.code, build.stderr).toBe(0);
    expect(build.stderr).toContain('npm registry unreachable; using the cached Node 24.');
    // No --key: signed with the development key, and the output must not let anyone miss it.
    expect(build.stderr).toContain('SIGNED WITH THE DEVELOPMENT KEY');
    const devPub = path.join(repoRoot, 'node_modules', '.cache', 'fieldkit-agent-dev-key', 'fieldkit-dev.pub');
    const verified = await runCliProcess(['verify', path.join(at('dist-offline'), `fieldkit-agent-${version}-linux-arm64.tar`), '--pub', devPub], { FIELDKIT_DATA_DIR: at('fieldkit-data') });
    expect(verified.code, verified.stderr).toBe(0);
  });

  it('fails with what to do when the registry is unreachable and nothing is cached, leaving no archive', async () => {
    const build = await run(process.execPath, [path.join(repoRoot, 'build', 'bundle-agent.ts'), '--arch', 'x64', '--out', at('dist-nothing')], {
      cwd: repoRoot,
      env: { ...offline, FIELDKIT_AGENT_NODE_CACHE: at('empty-node-cache') },
    });
    expect(build.code).toBe(1);
    expect(build.stderr).toContain('Cannot find Node 24 for x64 on the npm registry');
    expect(build.stderr).toContain('Check the network or the npm registry setting');
    expect(readdirSync(at('dist-nothing'))).toEqual([]);
  });
});

describe('verification', () => {
  it.each(['x64', 'arm64'] as const)('fieldkit verify accepts the %s archive', async (arch) => {
    const verified = await runCliProcess(['--json', 'verify', tarOf(arch), '--pub', publicKey], { FIELDKIT_DATA_DIR: at('fieldkit-data') });
    expect(verified.code, verified.stderr).toBe(0);
    expect(JSON.parse(verified.stdout)).toMatchObject({ ok: true, kind: 'bundle', manifest: { arch } });
  });

  it.each(['x64', 'arm64'] as const)('the stock minisign accepts the %s manifest signature and the archive signature', async (arch) => {
    const manifest = await run('minisign', ['-V', '-p', publicKey, '-m', path.join(prefixOf(arch), 'manifest.json')]);
    expect(manifest.code, manifest.stderr).toBe(0);
    expect(manifest.stdout).toContain(`version:${version}\tarch:${arch}`);
    expect((await run('minisign', ['-V', '-p', publicKey, '-m', tarOf(arch)])).code).toBe(0);
  });

  it('refuses one flipped byte in lib/agent.mjs of an unpacked bundle, naming the file', async () => {
    const file = path.join(prefixOf('x64'), 'lib', 'agent.mjs');
    const original = readFileSync(file);
    const tampered = Buffer.from(original);
    tampered[1000] = (tampered[1000] ?? 0) ^ 0x01;
    writeFileSync(file, tampered);
    try {
      const refused = await runCliProcess(['verify', prefixOf('x64'), '--pub', publicKey], { FIELDKIT_DATA_DIR: at('fieldkit-data') });
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain('lib/agent.mjs (SHA-256 differs: content changed)');
    } finally {
      writeFileSync(file, original);
    }
    expect((await runCliProcess(['verify', prefixOf('x64'), '--pub', publicKey], { FIELDKIT_DATA_DIR: at('fieldkit-data') })).code).toBe(0);
  });
});

describe('install files', () => {
  it('renders the systemd unit for the configured layout, and systemd accepts it', async () => {
    const unitFile = path.join(prefixOf('x64'), 'systemd', 'fieldkit-agent.service');
    const unit = readFileSync(unitFile, 'utf8');
    expect(unit).toContain(`ExecStart=${prefixOf('x64')}/bin/fieldkit-agent run --config ${layout.configPath}`);
    expect(unit).toContain(`ReadWritePaths=${layout.dataDir} ${path.dirname(layout.configPath)}`);
    for (const line of ['Type=simple', 'Restart=on-failure', 'User=fieldkit-agent', 'NoNewPrivileges=yes', 'ProtectSystem=strict', 'ProtectHome=yes', 'PrivateTmp=yes', 'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6']) {
      expect(unit).toContain(line);
    }
    // systemd's own parser: unknown keys, bad values or a missing ExecStart binary are errors.
    const verified = await run('systemd-analyze', ['verify', unitFile]);
    expect(verified.code, verified.stderr).toBe(0);
    expect(verified.stderr).toBe('');
    const security = await run('systemd-analyze', ['security', '--offline=yes', unitFile]);
    const exposure = Number(/Overall exposure level for \S+: (\d+\.\d+)/.exec(security.stdout)?.[1]);
    // 0 is a fully locked-down service, 10 an unprotected one; below 3 is "OK" to systemd.
    expect(exposure).toBeLessThan(3);
  });

  it('ships an example config that the shared schema accepts, pointing at the configured data folder', () => {
    const config = AgentConfigSchema.parse(JSON.parse(readFileSync(path.join(prefixOf('x64'), 'config', 'config.example.json'), 'utf8')));
    expect(config.data_dir).toBe(layout.dataDir);
  });
});

describe('running the unpacked bundles on their own Node', () => {
  it('x64: `fieldkit-agent version` runs on the bundled Node 24, not the system one', async () => {
    const prefix = prefixOf('x64');
    const result = await run(path.join(prefix, 'bin', 'fieldkit-agent'), ['version'], { env: { NODE_OPTIONS: `--import=${probe}` } });
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ agent_version: version, node_version: expect.stringMatching(/^24\./) as unknown, arch: 'x64' });
    const runtime = probed(result.stderr);
    expect(runtime.execPath).toBe(path.join(prefix, 'node', 'bin', 'node'));
    expect(runtime.version).toMatch(/^v24\./);
    expect(runtime.arch).toBe('x64');
  });

  it('arm64 under qemu-user: `fieldkit-agent version` runs on the bundled arm64 Node 24', async () => {
    const { env } = ensureQemuAarch64();
    const prefix = prefixOf('arm64');
    const result = await run(path.join(prefix, 'bin', 'fieldkit-agent'), ['version'], { env: { ...env, NODE_OPTIONS: `--import=${probe}` } });
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ agent_version: version, node_version: expect.stringMatching(/^24\./) as unknown, arch: 'arm64' });
    const runtime = probed(result.stderr);
    expect(runtime).toMatchObject({ execPath: path.join(prefix, 'node', 'bin', 'node'), arch: 'arm64' });
    expect(runtime.version).toMatch(/^v24\./);
  });

  it('arm64 under qemu-user: `fieldkit-agent ingest` journals events from stdin and `export` reads them back', async () => {
    const { env } = ensureQemuAarch64();
    const configPath = at('arm64-config.json');
    writeFileSync(configPath, JSON.stringify({ device_id: 'pi-arm64-smoke', data_dir: at('arm64-data') }));
    mkdirSync(at('arm64-data'));
    const launcher = path.join(prefixOf('arm64'), 'bin', 'fieldkit-agent');
    const events = [
      { ts_ms: 1_767_225_600_000, priority: 1, kind: 'safety', payload: { estop: true } },
      { ts_ms: 1_767_225_600_100, priority: 3, kind: 'inference', model_version: 'yolo-arm', payload: { ms: 41.5 } },
      { ts_ms: 1_767_225_600_200, priority: 2, kind: 'state', payload: { mode: 'auto', note: 'ü' } },
    ];
    const ingested = await run(launcher, ['--config', configPath, 'ingest'], { env, input: events.map((e) => JSON.stringify(e)).join('\n') + '\n' });
    expect(ingested.code, ingested.stderr).toBe(0);
    expect(JSON.parse(ingested.stdout)).toMatchObject({ accepted: 3, first_seq: 1, last_seq: 3 });
    const exported = await run(launcher, ['--config', configPath, 'export'], { env });
    expect(exported.code, exported.stderr).toBe(0);
    const records = exported.stdout.trim().split('\n').map((line) => JournalRecordSchema.parse(JSON.parse(line)));
    expect(records.map((r): unknown[] => [r.seq, r.kind, r.priority, JSON.parse(r.payload)])).toEqual(events.map((e, i) => [i + 1, e.kind, e.priority, e.payload]));
    expect(new Set(records.map((r) => r.device_id))).toEqual(new Set(['pi-arm64-smoke']));
    expect(records[1]?.model_version).toBe('yolo-arm');
  });

  it('arm64 under qemu-user: the bundled Node journals to node:sqlite in WAL mode and reads it back', async () => {
    const { env } = ensureQemuAarch64();
    const db = at('arm64-smoke.db');
    const script = [
      "import { DatabaseSync } from 'node:sqlite';",
      `const db = new DatabaseSync(${JSON.stringify(db)});`,
      "const mode = db.prepare('PRAGMA journal_mode=WAL').get().journal_mode;",
      "db.exec('CREATE TABLE IF NOT EXISTS ev (seq INTEGER PRIMARY KEY, payload TEXT NOT NULL)');",
      "const insert = db.prepare('INSERT INTO ev (payload) VALUES (?)');",
      "db.exec('BEGIN'); for (let i = 0; i < 100; i++) insert.run(JSON.stringify({ i })); db.exec('COMMIT');",
      "const row = db.prepare('SELECT count(*) AS n, max(seq) AS top FROM ev').get();",
      'console.log(JSON.stringify({ mode, n: row.n, top: row.top, arch: process.arch }));',
    ].join('\n');
    const result = await run(path.join(prefixOf('arm64'), 'node', 'bin', 'node'), ['--input-type=module', '--disable-warning=ExperimentalWarning', '-e', script], { env });
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({ mode: 'wal', n: 100, top: 100, arch: 'arm64' });
  });
});
