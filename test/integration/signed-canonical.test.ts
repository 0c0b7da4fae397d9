/**
 * A signed manifest is read one way only. Manifests with a key written twice — signed with
 * the stock `minisign -S` by a key the laptop trusts, so the signature itself is good — are
 * refused by `fieldkit image verify` and `image inspect`, by `image sign`, by the flash's
 * checks before a job exists, by `fieldkit verify` of a bundle, and by deploy (agent and
 * model bundles), each naming the key. And an image or bundle with only its last byte cut
 * off is refused as truncated, saying how much is missing.
 */
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assembleBundle } from '../../build/agent/assembleBundle.ts';
import { makeTestImage } from '../../build/make-test-image.ts';
import { dispatch } from '../../electron/kernel/api/dispatch.ts';
import { createAppServices, type AppServices } from '../../electron/app/appServices.ts';
import { buildModelBundle } from '../../electron/deploy/buildModelBundle.ts';
import { packImage } from '../../electron/kernel/image/packImage.ts';
import { readSecretKey } from '../../electron/kernel/signing/minisign.ts';
import { formatPublicKey, publicKeyOf, type MinisignSecretKey } from '../../electron/kernel/signing/minisignFormat.ts';
import { listUstar, readUstarMember, writeUstar } from '../../electron/kernel/signing/ustarArchive.ts';
import type { AppError } from '../../shared/errors.ts';
import { runCliProcess, type CliRun } from '../support/runCliProcess.ts';
import { makeTempDir } from '../support/tempDir.ts';

const execFileAsync = promisify(execFile);
const dir = makeTempDir('fieldkit-signed-canonical-');
const at = (...parts: string[]): string => path.join(dir.path, ...parts);
const notOurs = "— it was not made by fieldkit's packer; refusing.";
let key: MinisignSecretKey;
let services: AppServices;
let deviceId: string;

const fieldkit = (...args: string[]): Promise<CliRun> => runCliProcess(args, { FIELDKIT_DATA_DIR: at('cli-data') });

/** The app API's answer as a result, never a throw: a refusal is what most tests here expect. */
async function call(method: 'flash.start' | 'flash.inspect' | 'deploy.start' | 'deploy.inspect', params: unknown): Promise<{ ok: true; value: unknown } | { ok: false; error: AppError }> {
  return dispatch(services.handlers, method, params);
}

async function refusalOf(method: 'flash.start' | 'flash.inspect' | 'deploy.start', params: unknown): Promise<string> {
  const result = await call(method, params);
  if (result.ok) throw new Error(`${method} accepted it`);
  return result.error.message;
}

const flashStart = (image: string) => ({ imagePath: image, targets: [{ device: '/dev/fieldkit-no-such-drive', expectSizeBytes: 1 << 30 }] });
const deployStart = (bundle: string) => ({ bundlePath: bundle, deviceIds: [deviceId], maxFailurePercent: 0, order: 'given', stableSeconds: 10 });

/**
 * `archive` again with its manifest edited by `edit` and signed by the stock minisign with
 * the trusted key; every other member copied as it is.
 */
async function resignedCopy(archive: string, out: string, edit: (manifest: string) => string): Promise<string> {
  const members = await listUstar(archive);
  const [manifest, , ...rest] = members;
  if (manifest === undefined) throw new Error('no manifest');
  const text = (await readUstarMember(archive, manifest)).toString('utf8');
  const edited = edit(text);
  expect(edited).not.toBe(text);
  const work = at(`${path.basename(out)}.work`);
  mkdirSync(work);
  writeFileSync(path.join(work, 'manifest.json'), edited);
  await execFileAsync('minisign', ['-S', '-s', at('stock.key'), '-m', path.join(work, 'manifest.json'), '-t', 'signed by the trusted key, by hand']);
  // The signature is good: the stock tool accepts it, so only the canonical check can refuse.
  await execFileAsync('minisign', ['-V', '-p', at('stock.pub'), '-m', path.join(work, 'manifest.json')]);
  await writeUstar(
    out,
    [
      { path: 'manifest.json', mode: 0o644, source: { kind: 'bytes', bytes: Buffer.from(edited) } },
      { path: 'manifest.json.minisig', mode: 0o644, source: { kind: 'bytes', bytes: readFileSync(path.join(work, 'manifest.json.minisig')) } },
      ...(await Promise.all(rest.map(async (m) => ({ path: m.path, mode: m.mode, source: { kind: 'bytes' as const, bytes: await readUstarMember(archive, m) } })))),
    ],
    1_700_000_000,
  );
  return out;
}

/** A second `"key": value` line right after the first, as a hand edit or another tool might write. */
function duplicate(manifest: string, line: string, again: string): string {
  return manifest.replace(`\n  ${line},\n`, `\n  ${line},\n  ${again},\n`);
}

function cutLastByte(file: string, out: string): string {
  const bytes = readFileSync(file);
  writeFileSync(out, bytes.subarray(0, bytes.length - 1));
  return out;
}

beforeAll(async () => {
  await execFileAsync('minisign', ['-G', '-W', '-p', at('stock.pub'), '-s', at('stock.key')]);
  key = await readSecretKey(at('stock.key'));
  await makeTestImage(at('raw.img'));
  await packImage(at('raw.img'), at('good.fkimg'), { product: 'demo-os', version: '1.2.0', sequence: 7, boards: ['pi4', 'pi5'], expiresDays: 30, key });
  await resignedCopy(at('good.fkimg'), at('dup.fkimg'), (m) => duplicate(m, '"version": "1.2.0"', '"version": "6.6.6"'));
  cutLastByte(at('good.fkimg'), at('cut.fkimg'));

  writeFileSync(at('agent.mjs'), 'console.log("agent");\n'.repeat(500));
  await assembleBundle(
    at('agent.tar'),
    [
      { path: 'bin/fieldkit-agent', mode: 0o755, source: { kind: 'bytes', bytes: Buffer.from('#!/bin/sh\nexec true\n') } },
      { path: 'lib/agent.mjs', mode: 0o644, source: { kind: 'file', path: at('agent.mjs') } },
    ],
    { version: '9.9.9', arch: 'x64', nodeVersion: 'v24.0.0', sourceDateEpoch: 1_700_000_000, sourceCommit: null, install: { prefix: '/opt/fieldkit-agent', data_dir: '/var/lib/fieldkit-agent', config_path: '/etc/fieldkit-agent/config.json' } },
    key,
  );
  await resignedCopy(at('agent.tar'), at('dup-agent.tar'), (m) => duplicate(m, '"version": "9.9.9"', '"version": "1.0.0"'));
  cutLastByte(at('agent.tar'), at('cut-agent.tar'));
  await buildModelBundle({
    archive: at('model.tar'),
    name: 'people-detector',
    version: '2.0.0',
    install: { prefix: '/opt/fieldkit-agent', service: 'inference.service', health_command: 'true' },
    key,
    files: [{ path: 'model.bin', source: { kind: 'bytes', bytes: Buffer.from('FKMODEL v1 weights') } }],
  });
  // Nested, not at the top: the files list says one size, and again another.
  await resignedCopy(at('model.tar'), at('dup-model.tar'), (m) => m.replace(/\n( +)"size": (\d+),\n/, '\n$1"size": $2,\n$1"size": 1,\n'));

  services = await createAppServices({ dataDir: at('data'), version: 'test', watchDrives: false, demo: false });
  await services.handlers['trust.import']({ publicKey: formatPublicKey(publicKeyOf(key)), label: 'release key (stock minisign)' });
  deviceId = (await services.handlers['devices.add']({ name: 'pi-01', link: { kind: 'ssh', host: '10.0.0.1', port: 22, username: 'pi', agentPrefix: '/opt/fieldkit-agent' } })).device.id;
}, 60_000);

afterAll(async () => {
  await services.close();
  dir.remove();
});

describe('an image manifest with a key twice, signed by a trusted key', () => {
  it('the untouched image passes every check (the baseline)', async () => {
    expect((await fieldkit('image', 'verify', at('good.fkimg'), '--pub', at('stock.pub'))).code).toBe(0);
    const inspected = await call('flash.inspect', { imagePath: at('good.fkimg') });
    expect(inspected.ok && (inspected.value as { image: { problems: unknown[] } }).image.problems).toEqual([]);
  });

  it('is refused by fieldkit image verify and image inspect, naming the key', async () => {
    const said = 'The signed manifest.json in dup.fkimg has the key "version" twice at the top level (the second at line 5, column 3) ' + notOurs;
    const verify = await fieldkit('image', 'verify', at('dup.fkimg'), '--pub', at('stock.pub'));
    expect(verify.code).toBe(1);
    expect(verify.stderr).toContain(said);
    expect(verify.stdout).not.toContain('Verified');
    const inspectChecked = await fieldkit('image', 'inspect', at('dup.fkimg'), '--pub', at('stock.pub'));
    expect(inspectChecked.code).toBe(1);
    expect(inspectChecked.stderr).toContain(said);
    // Unverified, for show only: still never read a second way.
    const inspect = await fieldkit('image', 'inspect', at('dup.fkimg'));
    expect(inspect.code).toBe(1);
    expect(inspect.stderr).toContain('The manifest.json in dup.fkimg has the key "version" twice');
    expect(inspect.stdout).not.toContain('6.6.6');
  });

  it('is refused by the flash checks before any job exists', async () => {
    expect(await refusalOf('flash.inspect', { imagePath: at('dup.fkimg') })).toContain('has the key "version" twice');
    expect(await refusalOf('flash.start', flashStart(at('dup.fkimg')))).toContain(`has the key "version" twice at the top level (the second at line 5, column 3) ${notOurs}`);
    expect(services.jobs.list({ limit: 10 })).toEqual([]);
  });

  it('cannot be signed again by image sign', async () => {
    cpSync(at('dup.fkimg'), at('dup-resign.fkimg'));
    const run = await fieldkit('image', 'sign', at('dup-resign.fkimg'), '--key', at('stock.key'));
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('has the key "version" twice');
    expect(readFileSync(at('dup-resign.fkimg')).equals(readFileSync(at('dup.fkimg')))).toBe(true);
  });
});

describe('a bundle manifest with a key twice, signed by a trusted key', () => {
  it('the untouched bundles pass (the baseline)', async () => {
    expect((await fieldkit('verify', at('agent.tar'), '--pub', at('stock.pub'))).code).toBe(0);
    for (const bundle of ['agent.tar', 'model.tar']) {
      const inspected = await call('deploy.inspect', { bundlePath: at(bundle) });
      expect(inspected.ok && (inspected.value as { bundle: { problems: unknown[] } }).bundle.problems).toEqual([]);
    }
  });

  it('is refused by fieldkit verify, packed and unpacked', async () => {
    const packed = await fieldkit('verify', at('dup-agent.tar'), '--pub', at('stock.pub'));
    expect(packed.code).toBe(1);
    expect(packed.stderr).toContain(`The signed manifest.json in dup-agent.tar has the key "version" twice at the top level (the second at line 5, column 3) ${notOurs}`);
    mkdirSync(at('dup-agent'));
    await execFileAsync('tar', ['-xf', at('dup-agent.tar'), '-C', at('dup-agent')]);
    const unpacked = await fieldkit('verify', at('dup-agent'), '--pub', at('stock.pub'));
    expect(unpacked.code).toBe(1);
    expect(unpacked.stderr).toContain('has the key "version" twice at the top level');
  });

  it('is refused by deploy, agent and model bundles alike, before any job exists', async () => {
    expect(await refusalOf('deploy.start', deployStart(at('dup-agent.tar')))).toBe(`Nothing was deployed: The manifest.json of dup-agent.tar has the key "version" twice at the top level (the second at line 5, column 3) ${notOurs}`);
    expect(await refusalOf('deploy.start', deployStart(at('dup-model.tar')))).toMatch(/^Nothing was deployed: The manifest\.json of dup-model\.tar has the key "size" twice in files\.0 \(the second at line \d+, column 7\) — it was not made/);
    const inspected = await call('deploy.inspect', { bundlePath: at('dup-model.tar') });
    // Refused at the first read, before any field is trusted: the Deploy screen says why, without an "altered" alarm.
    const bundle = inspected.ok ? (inspected.value as { bundle: { signature: { status: string }; problems: { message: string }[] } }).bundle : null;
    expect(bundle?.signature.status).toBe('unread');
    expect(bundle?.problems[0]?.message).toMatch(/has the key "size" twice in files\.0/);
    expect(services.jobs.list({ limit: 10 })).toEqual([]);
  });
});

describe('an archive with its last byte cut off', () => {
  it('an image is refused by image verify and by the flash checks', async () => {
    const said = 'The image file cut.fkimg is truncated (1 byte missing at the end) — copy it again.';
    const verify = await fieldkit('image', 'verify', at('cut.fkimg'), '--pub', at('stock.pub'));
    expect(verify.code).toBe(1);
    expect(verify.stderr).toContain(said);
    expect(await refusalOf('flash.start', flashStart(at('cut.fkimg')))).toBe(said);
    expect(services.jobs.list({ limit: 10 })).toEqual([]);
  });

  it('a bundle is refused by fieldkit verify and by deploy', async () => {
    const said = 'The bundle cut-agent.tar is truncated (1 byte missing at the end) — copy it again.';
    const verify = await fieldkit('verify', at('cut-agent.tar'), '--pub', at('stock.pub'));
    expect(verify.code).toBe(1);
    expect(verify.stderr).toContain(said);
    expect(await refusalOf('deploy.start', deployStart(at('cut-agent.tar')))).toBe(`Nothing was deployed: ${said}`);
  });
});
