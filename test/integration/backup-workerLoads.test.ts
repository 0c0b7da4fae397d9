/**
 * What a backup job's worker loads before it can reach a device (bench/backup.ts: an
 * unchanged Pi's backup is mostly this start-up). The backup job reaches devices through
 * the devices domain's index, which also defines discovery and serial links; neither may
 * load for a backup over SSH. A real Node process imports the job's module while a
 * preloaded hook records every module it loads.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { makeTempDir } from '../support/tempDir.ts';

const recorder = fileURLToPath(new URL('../support/moduleLoadRecorder.ts', import.meta.url));
const repo = fileURLToPath(new URL('../../', import.meta.url));

describe('backup job worker loading', () => {
  const dir = makeTempDir('fieldkit-backup-loads-');
  afterAll(() => {
    dir.remove();
  });

  it('loads no discovery (mDNS, serial listing, subnet probe) and no serialport with the backup job', () => {
    const record = path.join(dir.path, 'modules.txt');
    const job = pathToFileURL(path.join(repo, 'electron/backup/backupJob.ts')).href;
    const answer = execFileSync(process.execPath, ['--input-type=module', '-e', `const m = await import(${JSON.stringify(job)}); console.log(typeof m.runBackup);`], {
      env: { ...process.env, NODE_OPTIONS: `--import=${recorder}`, FIELDKIT_RECORD_MODULES: record },
    });
    expect(answer.toString().trim()).toBe('function');
    const loaded = readFileSync(record, 'utf8').split('\n');
    const urls = loaded.filter((url) => url.startsWith('file:'));
    const files = urls.filter((url) => !url.includes('/node_modules/')).map((url) => path.relative(repo, fileURLToPath(url)));
    // A package by its name (node_modules may be a link elsewhere): the part after the last node_modules/.
    const packages = new Set(
      urls.flatMap((url) => {
        const [scopeOrName = '', name = ''] = url.slice(url.lastIndexOf('/node_modules/') + '/node_modules/'.length).split('/');
        return url.includes('/node_modules/') ? [scopeOrName.startsWith('@') ? `${scopeOrName}/${name}` : scopeOrName] : [];
      }),
    );
    // The backup job did load: its own module and the devices domain's link to a device.
    expect(files).toContain('electron/backup/backupJob.ts');
    expect(files).toContain('electron/devices/deviceConnection.ts');
    expect(packages).toContain('ssh2');
    const unneeded = files.filter((f) => /^electron\/devices\/discovery\/(?!discoverParams\.ts$)|^electron\/kernel\/link\/serialLink\.ts$/.test(f));
    expect(unneeded).toEqual([]);
    expect([...packages].filter((p) => ['multicast-dns', 'dns-packet', 'serialport', '@serialport/bindings-cpp'].includes(p))).toEqual([]);
  });
});
