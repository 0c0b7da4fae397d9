/**
 * Signed bundles, small and fast: build/agent/assembleBundle.ts writes one from a few small
 * files, and `fieldkit verify` (plus the stock minisign on the manifest) checks it packed and
 * unpacked. Every tampering a bundle can suffer in transit or on a card is refused, naming
 * the file: changed content, an added, missing or no-longer-executable file, an edited
 * manifest, another key, a truncated archive, a duplicated member, a path escaping the bundle.
 */
import { execFile } from 'node:child_process';
import { appendFileSync, chmodSync, cpSync, mkdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assembleBundle, type BundleDescription, type BundleInput } from '../../build/agent/assembleBundle.ts';
import { checkLayout, defaultLayout, exampleConfig, renderSystemdUnit } from '../../build/agent/installFiles.ts';
import { writeNewKeyPair } from '../../electron/kernel/signing/keyFiles.ts';
import { signBytes } from '../../electron/kernel/signing/minisign.ts';
import { formatSignature, type MinisignSecretKey } from '../../electron/kernel/signing/minisignFormat.ts';
import { listUstar, writeUstar } from '../../electron/kernel/signing/ustarArchive.ts';
import { canonicalJsonText } from '../../shared/canonicalJson.ts';
import { runCliProcess } from '../support/runCliProcess.ts';
import { makeTempDir } from '../support/tempDir.ts';

const execFileAsync = promisify(execFile);
const dir = makeTempDir('fieldkit-bundle-verify-');
const at = (...parts: string[]) => path.join(dir.path, ...parts);
const archive = at('fieldkit-agent-9.9.9-linux-x64.tar');
let key: MinisignSecretKey;

const description: BundleDescription = {
  version: '9.9.9',
  arch: 'x64',
  nodeVersion: 'v24.0.0',
  sourceDateEpoch: 1_700_000_000,
  sourceCommit: null,
  install: { prefix: '/opt/fieldkit-agent', data_dir: '/var/lib/fieldkit-agent', config_path: '/etc/fieldkit-agent/config.json' },
};

function inputs(): BundleInput[] {
  writeFileSync(at('agent.mjs'), 'console.log("agent");\n'.repeat(500));
  return [
    { path: 'bin/fieldkit-agent', mode: 0o755, source: { kind: 'bytes', bytes: Buffer.from('#!/bin/sh\nexec true\n') } },
    { path: 'lib/agent.mjs', mode: 0o644, source: { kind: 'file', path: at('agent.mjs') } },
    { path: 'config/config.example.json', mode: 0o644, source: { kind: 'bytes', bytes: Buffer.from('{}\n') } },
  ];
}

async function verify(target: string, pub = at('keys/fieldkit.pub')): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return runCliProcess(['verify', target, '--pub', pub], { FIELDKIT_DATA_DIR: at('data') });
}

/** A fresh unpacked copy of the bundle to damage. */
async function unpacked(name: string): Promise<string> {
  const target = at(name);
  mkdirSync(target);
  await execFileAsync('tar', ['-xf', archive, '-C', target]);
  return target;
}

beforeAll(async () => {
  key = (await writeNewKeyPair(at('keys'))).key;
  await writeNewKeyPair(at('other-keys'));
  await assembleBundle(archive, inputs(), description, key);
});

afterAll(() => {
  dir.remove();
});

describe('a signed bundle', () => {
  it('lays out manifest.json, its signature, then the files in path order', async () => {
    expect((await listUstar(archive)).map((m) => m.path)).toEqual([
      'manifest.json',
      'manifest.json.minisig',
      'bin/fieldkit-agent',
      'config/config.example.json',
      'lib/agent.mjs',
    ]);
  });

  it('is byte-for-byte the same when assembled again', async () => {
    await assembleBundle(at('again.tar'), inputs(), description, key);
    expect(readFileSync(at('again.tar')).equals(readFileSync(archive))).toBe(true);
  });

  it('verifies packed and unpacked with fieldkit verify', async () => {
    const packed = await runCliProcess(['--json', 'verify', archive, '--pub', at('keys/fieldkit.pub')], { FIELDKIT_DATA_DIR: at('data') });
    expect(packed.code, packed.stderr).toBe(0);
    expect(JSON.parse(packed.stdout)).toMatchObject({ ok: true, kind: 'bundle', manifest: { version: '9.9.9', arch: 'x64' }, signature: { algorithm: 'ED' } });
    const folder = await unpacked('clean');
    const run = await verify(folder);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('3 files match their SHA-256 and size');
  });

  it('has a manifest signature and an archive signature the stock minisign accepts', async () => {
    const folder = await unpacked('stock');
    const manifest = await execFileAsync('minisign', ['-V', '-p', at('keys/fieldkit.pub'), '-m', path.join(folder, 'manifest.json')]);
    expect(manifest.stdout).toContain('file:manifest.json\tproduct:fieldkit-agent\tversion:9.9.9\tarch:x64\thashed');
    await execFileAsync('minisign', ['-V', '-p', at('keys/fieldkit.pub'), '-m', archive]);
  });
});

describe('fieldkit verify refuses a damaged bundle', () => {
  it('names a file whose content changed', async () => {
    const folder = await unpacked('changed');
    const file = path.join(folder, 'lib/agent.mjs');
    const bytes = readFileSync(file);
    bytes[100] = (bytes[100] ?? 0) ^ 0x01;
    writeFileSync(file, bytes);
    const run = await verify(folder);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('lib/agent.mjs (SHA-256 differs: content changed)');
    expect(run.stderr).toContain('what to do: Do not install or run this bundle.');
  });

  it('names an added, a missing and a no-longer-executable file', async () => {
    const folder = await unpacked('shuffled');
    writeFileSync(path.join(folder, 'lib/evil.mjs'), 'process.exit(0)\n');
    rmSync(path.join(folder, 'config/config.example.json'));
    chmodSync(path.join(folder, 'bin/fieldkit-agent'), 0o644);
    const run = await verify(folder);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('lib/evil.mjs (not in the manifest)');
    expect(run.stderr).toContain('config/config.example.json (missing)');
    expect(run.stderr).toContain('bin/fieldkit-agent (should be executable)');
  });

  it('refuses an edited manifest before trusting a word of it', async () => {
    const folder = await unpacked('edited');
    const manifest = path.join(folder, 'manifest.json');
    writeFileSync(manifest, readFileSync(manifest, 'utf8').replace('"9.9.9"', '"9.9.10"'));
    const run = await verify(folder);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('manifest.json does not match its signature');
  });

  it('refuses a bundle signed by a key that is not the trusted one', async () => {
    const run = await verify(archive, at('other-keys/fieldkit.pub'));
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/was signed with key [0-9A-F]{16}, not with the trusted key [0-9A-F]{16}/);
  });

  it('names a member changed inside the archive', async () => {
    const copy = at('patched.tar');
    cpSync(archive, copy);
    const member = (await listUstar(copy)).find((m) => m.path === 'lib/agent.mjs');
    if (member === undefined) throw new Error('no lib/agent.mjs');
    const bytes = readFileSync(copy);
    bytes[member.offset + 7] = (bytes[member.offset + 7] ?? 0) ^ 0x20;
    writeFileSync(copy, bytes);
    const run = await verify(copy);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('lib/agent.mjs (SHA-256 differs: content changed)');
  });

  it('refuses a truncated archive', async () => {
    const copy = at('cut.tar');
    cpSync(archive, copy);
    truncateSync(copy, readFileSync(copy).length - 2048);
    const run = await verify(copy);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('truncated');
  });

  it('refuses a second copy of a member appended to the archive', async () => {
    const copy = at('appended.tar');
    cpSync(archive, copy);
    const members = await listUstar(copy);
    // Rewrite with one member twice: GNU tar would extract the second over the first.
    const content = (p: string) => {
      const m = members.find((x) => x.path === p);
      if (m === undefined) throw new Error(p);
      return readFileSync(copy).subarray(m.offset, m.offset + m.size);
    };
    await writeUstar(
      copy,
      [...members.map((m) => ({ path: m.path, mode: m.mode, source: { kind: 'bytes' as const, bytes: content(m.path) } })), { path: 'lib/agent.mjs', mode: 0o644, source: { kind: 'bytes', bytes: Buffer.from('evil()\n') } }],
      0,
    );
    const run = await verify(copy);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('lib/agent.mjs (appears twice in the archive)');
  });

  it('refuses a correctly signed manifest that names a path outside the bundle', async () => {
    const manifest = Buffer.from(
      canonicalJsonText({ manifest_version: 1, product: 'fieldkit-agent', version: '1.0.0', arch: 'x64', node_version: 'v24.0.0', created_at: '2024-01-01T00:00:00.000Z', source_commit: null, install: description.install, files: [{ path: '../../etc/cron.d/x', sha256: '0'.repeat(64), size: 0, mode: 0o644 }] }),
    );
    const sig = formatSignature(signBytes(key, manifest, { trustedComment: 'hostile' }));
    const copy = at('escape.tar');
    await writeUstar(copy, [
      { path: 'manifest.json', mode: 0o644, source: { kind: 'bytes', bytes: manifest } },
      { path: 'manifest.json.minisig', mode: 0o644, source: { kind: 'bytes', bytes: Buffer.from(sig) } },
    ], 0);
    const run = await verify(copy);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('is not an agent bundle manifest: files.0.path');
  });

  it('falls back to plain-file verification for something that is not a bundle', async () => {
    appendFileSync(at('plain.txt'), 'not a bundle\n');
    const run = await verify(at('plain.txt'));
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('There is no signature at');
  });
});

describe('install layout', () => {
  it('puts a data folder under /var/lib in StateDirectory=, and leaves one elsewhere to the installer', () => {
    expect(renderSystemdUnit(defaultLayout, '1.0.0', 'arm64')).toContain('StateDirectory=fieldkit-agent\nStateDirectoryMode=0750');
    const custom = renderSystemdUnit({ prefix: '/srv/fk', dataDir: '/data/journal', configPath: '/srv/fk/etc/agent.json' }, '1.0.0', 'arm64');
    expect(custom).not.toContain('StateDirectory=');
    expect(custom).toContain('ExecStart=/srv/fk/bin/fieldkit-agent run --config /srv/fk/etc/agent.json');
    expect(custom).toContain('ReadWritePaths=/data/journal /srv/fk/etc');
    expect(custom).not.toMatch(/@[A-Z_]+@/);
  });

  it('refuses layouts a unit file cannot hold safely: relative, unnormalised, spaces, specifiers', () => {
    for (const prefix of ['opt/fk', '/opt/../etc', '/opt/fk/', '/opt/field kit', '/opt/%h', '/']) {
      expect(() => checkLayout({ ...defaultLayout, prefix }), prefix).toThrow(/prefix/);
    }
  });

  it('makes an example config that the shared schema accepts as it is', () => {
    expect(exampleConfig({ ...defaultLayout, dataDir: '/data/fk' })).toMatchObject({ device_id: 'change-me-pi-01', data_dir: '/data/fk', mqtt: null, uplink: null });
  });
});
