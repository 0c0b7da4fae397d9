/**
 * What inspecting a bundle path says, case by case: only a bundle whose trusted signature or
 * file hashes do not match is "altered" (`invalid`); a path with nothing at it, a file this
 * user may not read, a folder or file that is no bundle, a truncated archive are each named
 * as what they are, with the signature `unread` (never checked, so nothing claimed).
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, statSync, truncateSync, copyFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { createAppServices } from '../../electron/app/appServices.ts';
import { inspectBundle } from '../../electron/deploy/signedBundle.ts';
import { importTrustedKey, listTrustedKeys } from '../../electron/kernel/trust/trustStore.ts';
import { openStore } from '../../electron/kernel/store/openStore.ts';
import type { BundleSummary } from '../../shared/deploy.ts';
import type { TrustedKey } from '../../shared/trust.ts';
import { modelBundles, type ModelBundles } from '../support/modelBundles.ts';
import { makeTempDir } from '../support/tempDir.ts';

const dir = makeTempDir('fieldkit-bundle-inspect-');
const at = (name: string) => path.join(dir.path, name);
let bundles: ModelBundles;
let trustedKeys: TrustedKey[];
let good = '';

beforeAll(async () => {
  bundles = modelBundles(dir.path);
  const store = openStore(at('laptop'));
  importTrustedKey(store, bundles.publicKey, 'model publisher');
  trustedKeys = listTrustedKeys(store);
  store.close();
  good = await bundles.build('good');
});
afterAll(() => {
  dir.remove();
});

function problem(summary: BundleSummary): { status: string; code: string | undefined; message: string } {
  return { status: summary.signature.status, code: summary.problems[0]?.code, message: summary.problems.map((p) => `${p.message} ${p.hint}`).join(' | ') };
}

describe('inspecting a bundle path', () => {
  it('a good signed bundle is trusted, with nothing wrong', async () => {
    expect(await inspectBundle(good, trustedKeys)).toMatchObject({ kind: 'model', version: '1.0.0', signature: { status: 'trusted', signer: 'model publisher' }, problems: [] });
  });

  it('deploy.inspect expands ~ to the home folder, as a shell would', async () => {
    const services = await createAppServices({ dataDir: at('app-data'), version: 'test', watchDrives: false });
    const home = process.env.HOME;
    process.env.HOME = path.dirname(good);
    onTestFinished(async () => {
      process.env.HOME = home;
      await services.close();
    });
    await services.handlers['trust.import']({ publicKey: bundles.publicKey, label: 'model publisher' });
    const { bundle } = await services.handlers['deploy.inspect']({ bundlePath: `~/${path.basename(good)}` });
    expect(bundle).toMatchObject({ kind: 'model', version: '1.0.0', signature: { status: 'trusted' }, problems: [] });
  });

  it('a path with nothing at it is NOT_FOUND, not altered', async () => {
    for (const missing of [at('nope.tar'), path.join(good, 'inside.tar'), at('no-such-folder/agent.tar')]) {
      const seen = problem(await inspectBundle(missing, trustedKeys));
      expect(seen, missing).toMatchObject({ status: 'unread', code: 'NOT_FOUND' });
      expect(seen.message).toContain(`There is no file at ${missing}`);
      expect(seen.message).not.toMatch(/altered|tamper|signature/i);
    }
  });

  it('a folder, an empty file, a text file and a foreign tar are each named as not a bundle', async () => {
    mkdirSync(at('photos'));
    writeFileSync(at('empty.tar'), '');
    writeFileSync(at('notes.tar'), 'shopping list\n'.repeat(100));
    writeFileSync(at('readme.txt'), 'hello\n');
    execFileSync('tar', ['--format=ustar', '-cf', at('foreign.tar'), '-C', dir.path, 'readme.txt']);
    const cases: [string, RegExp][] = [
      [at('photos'), /is a folder without manifest\.json: not an unpacked bundle/],
      [at('empty.tar'), /is empty \(0 bytes\)/],
      [at('notes.tar'), /notes\.tar is not a tar archive/],
      [at('foreign.tar'), /foreign\.tar does not start with manifest\.json/],
      ['/dev/null', /is not a regular file/],
    ];
    for (const [target, message] of cases) {
      const seen = problem(await inspectBundle(target, trustedKeys));
      expect(seen, target).toMatchObject({ status: 'unread', code: 'BAD_REQUEST' });
      expect(seen.message, target).toMatch(message);
      expect(seen.message, target).not.toMatch(/altered/i);
    }
  });

  it('a truncated archive is unread and says truncated, not altered', async () => {
    copyFileSync(good, at('cut.tar'));
    // Cut inside a member: the copy stopped part way.
    truncateSync(at('cut.tar'), Math.floor(statSync(good).size / 2));
    const seen = problem(await inspectBundle(at('cut.tar'), trustedKeys));
    expect(seen).toMatchObject({ status: 'unread' });
    expect(seen.message).toMatch(/truncated/);
    expect(seen.message).not.toMatch(/altered/i);
  });

  it('a file this user may not read is PERMISSION_DENIED', () => {
    // Root reads everything; the inspect runs as nobody in a child process.
    const locked = at('locked.tar');
    copyFileSync(good, locked);
    chmodSync(locked, 0o600);
    chmodSync(dir.path, 0o755);
    const script = `
      process.setgid(65534); process.setuid(65534);
      const { inspectBundle } = await import(${JSON.stringify(path.join(process.cwd(), 'electron/deploy/signedBundle.ts'))});
      const summary = await inspectBundle(${JSON.stringify(locked)}, ${JSON.stringify(trustedKeys)});
      console.log(JSON.stringify(summary));`;
    const summary = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' })) as BundleSummary;
    const seen = problem(summary);
    expect(seen).toMatchObject({ status: 'unread', code: 'PERMISSION_DENIED' });
    expect(seen.message).toContain(`${locked} cannot be read`);
  });

  it('a changed file or a changed signed manifest is invalid: altered', async () => {
    const content = problem(await inspectBundle(await bundles.tamper(good, 'model.bin', 'content.tar', 'w'), trustedKeys));
    expect(content).toMatchObject({ status: 'invalid', code: 'VERIFICATION_FAILED' });
    expect(content.message).toMatch(/model\.bin \(SHA-256 differs/);
    const manifest = problem(await inspectBundle(await bundles.tamper(good, 'manifest.json', 'manifest.tar', '1.0.0'), trustedKeys));
    expect(manifest).toMatchObject({ status: 'invalid', code: 'VERIFICATION_FAILED' });
    expect(manifest.message).toMatch(/does not match its signature/);
  });

  it('a bundle signed by an unknown key is untrusted, not altered', async () => {
    const stranger = modelBundles(dir.path);
    const foreign = await stranger.build('stranger');
    expect(problem(await inspectBundle(foreign, trustedKeys))).toMatchObject({ status: 'untrusted', code: 'VERIFICATION_FAILED' });
  });
});
