/**
 * Builds the Electron bundles with build/bundle-electron.ts into a scratch folder and
 * checks what Electron and the packaged app rely on: the bundles, a preload that needs
 * nothing but 'electron', ESM bundles that load only Node built-ins and the packages left
 * external, and a bundled CLI, job worker and flash helper that actually run.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';
import { promisify } from 'node:util';
import vm from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEventBus } from '../../electron/kernel/api/eventBus.ts';
import { startFlashHelper } from '../../electron/flash/helperChannel.ts';
import { jobKinds } from '../../electron/app/domains.ts';
import { createJobRunner } from '../../electron/kernel/jobs/jobRunner.ts';
import { createJobStore } from '../../electron/kernel/jobs/jobStore.ts';
import { openStore } from '../../electron/kernel/store/openStore.ts';
import { externalPackages } from '../../build/bundle-electron.ts';
import type { FieldkitBridge } from '../../shared/api.ts';
import { makeTempDir } from '../support/tempDir.ts';

const run = promisify(execFile);
const repoRoot = path.join(import.meta.dirname, '..', '..');
const scratch = makeTempDir('fieldkit-bundle-');
// Laid out like the app: <root>/package.json (type: module), node_modules, electron/*.js.
const outDir = path.join(scratch.path, 'electron');
const bundleNames = ['main.js', 'preload.cjs', 'jobWorker.js', 'flashHelper.js', 'cli.js'];

beforeAll(async () => {
  writeFileSync(path.join(scratch.path, 'package.json'), JSON.stringify({ type: 'module' }));
  symlinkSync(path.join(repoRoot, 'node_modules'), path.join(scratch.path, 'node_modules'), 'dir');
  await run(process.execPath, [path.join(repoRoot, 'build', 'bundle-electron.ts'), '--outdir', outDir], { cwd: repoRoot });
});

afterAll(() => {
  scratch.remove();
});

function bundle(name: string): string {
  return readFileSync(path.join(outDir, name), 'utf8');
}

/** Bare package names an ESM bundle imports, statically or dynamically. */
function importedPackages(code: string): string[] {
  // `from "x"`, a bare `import "x"` statement, or `import("x")` — but not a property
  // name such as "trust.import" followed by a string elsewhere in the bundle.
  const specifiers = [...code.matchAll(/(?:\bfrom\s*|(?:^|[;{}\n])\s*import\s*|\bimport\(\s*)["']([^"']+)["']/g)].map((match) => match[1] ?? '');
  return [...new Set(specifiers.filter((s) => !s.startsWith('.') && !s.startsWith('/')))].sort();
}

function isAllowedExternal(specifier: string): boolean {
  if (specifier.startsWith('node:') || builtinModules.includes(specifier)) return true;
  const name = specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : (specifier.split('/')[0] ?? '');
  return externalPackages.some((external) => (external.endsWith('/*') ? name.startsWith(external.slice(0, -1)) : name === external));
}

describe('build/bundle-electron.ts', () => {
  it('produces the bundles, each with a source map', () => {
    for (const name of bundleNames) {
      expect(statSync(path.join(outDir, name)).size, name).toBeGreaterThan(1000);
      expect(existsSync(path.join(outDir, `${name}.map`)), `${name}.map`).toBe(true);
    }
  });

  it('makes a preload that requires nothing but electron', () => {
    const code = bundle('preload.cjs');
    const requires = [...code.matchAll(/\brequire\s*\(([^)]*)\)/g)].map((match) => match[1]);
    expect(requires.length).toBeGreaterThan(0);
    expect(new Set(requires)).toEqual(new Set(['"electron"']));
    expect(code).not.toMatch(/^\s*import\s/m);
  });

  it('makes a preload that runs with no Node globals and exposes only the bridge', async () => {
    const exposed = new Map<string, unknown>();
    const electron = {
      contextBridge: { exposeInMainWorld: (key: string, api: unknown) => exposed.set(key, api) },
      ipcRenderer: { invoke: () => Promise.resolve({ ok: true, value: {} }), on: () => undefined, removeListener: () => undefined },
    };
    const requireOnlyElectron = (id: string) => {
      if (id !== 'electron') throw new Error(`a sandboxed preload cannot require '${id}'`);
      return electron;
    };
    const module = { exports: {} };
    vm.runInNewContext(bundle('preload.cjs'), { require: requireOnlyElectron, module, exports: module.exports }, { filename: 'preload.cjs' });
    expect([...exposed.keys()]).toEqual(['fieldkit']);
    const bridge = exposed.get('fieldkit') as FieldkitBridge;
    expect(Object.keys(bridge).sort()).toEqual(['carrier', 'invoke', 'subscribe']);
    const result = await (bridge.invoke as (method: string, params: unknown) => Promise<unknown>)('no.such.method', {});
    expect(result).toMatchObject({ ok: false, error: { code: 'METHOD_NOT_FOUND' } });
  });

  it('leaves only Node built-ins and the listed native packages outside the ESM bundles', () => {
    for (const name of ['main.js', 'jobWorker.js', 'flashHelper.js', 'cli.js']) {
      const outside = importedPackages(bundle(name)).filter((specifier) => !isAllowedExternal(specifier));
      expect(outside, name).toEqual([]);
    }
    expect(importedPackages(bundle('main.js'))).toContain('electron');
  });

  it('makes an executable CLI with one hashbang that runs', async () => {
    const cli = path.join(outDir, 'cli.js');
    expect(statSync(cli).mode & 0o111).not.toBe(0);
    expect(bundle('cli.js').match(/^#!.*$/gm)).toEqual(['#!/usr/bin/env node']);
    const { stdout } = await run(process.execPath, [cli, 'info', '--json', '--data-dir', path.join(scratch.path, 'cli-data')]);
    expect(JSON.parse(stdout)).toMatchObject({ name: 'fieldkit' });
  });

  it('makes a job worker that runs a job when forked, as the app forks it', async () => {
    const sample = path.join(scratch.path, 'sample.img');
    writeFileSync(sample, Buffer.alloc(3 * 1024 * 1024, 7));
    const dataDir = path.join(scratch.path, 'worker-data');
    mkdirSync(dataDir);
    const db = openStore(dataDir);
    const runner = createJobRunner({
      kinds: jobKinds,
      store: createJobStore(db),
      bus: createEventBus(),
      launch: { execPath: process.execPath, script: path.join(outDir, 'jobWorker.js'), env: {} },
    });
    try {
      const job = runner.start('drives.readCheck', { device: sample, sizeBytes: 3 * 1024 * 1024 });
      const record = await runner.whenFinished(job.id);
      expect(record.error).toBeNull();
      expect(record.state).toBe('done');
    } finally {
      await runner.close();
      db.close();
    }
  });

  it('makes a flash helper that connects with its token and exits when the channel closes', async () => {
    const helper = await startFlashHelper({ script: path.join(outDir, 'flashHelper.js'), elevation: 'none' });
    const pid = helper.pid;
    expect(() => process.kill(pid, 0)).not.toThrow();
    await helper.close();
    await expect.poll(() => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    }, { timeout: 5000 }).toBe(false);
  });
});
