/**
 * `fieldkit-agent backup-probe` from source against real files and a real SQLite journal:
 * the token is stable while nothing changes, equals the token a stream carries in its
 * manifest, and moves with restic's own change rule — new journal records, a rewrite that
 * keeps size and mtime (ctime still moves), a new file, a changed --path.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BackupProbeSchema, type BackupProbe } from '../../shared/backupProbe.ts';
import { agentEntry, writeAgentConfig } from '../support/agentDaemonProcess.ts';
import { syntheticEvents } from '../support/agentEvents.ts';
import { extractStream, runBackupStream } from '../support/backupStreamRun.ts';
import { makeTempDir } from '../support/tempDir.ts';

describe('fieldkit-agent backup-probe', () => {
  const cleanups: (() => void)[] = [];
  afterEach(() => {
    for (const c of cleanups.splice(0).reverse()) c();
  });

  function setup() {
    const d = makeTempDir('fieldkit-agent-probe-');
    cleanups.push(() => { d.remove(); });
    const etc = join(d.path, 'etc');
    mkdirSync(join(etc, 'ssh'), { recursive: true });
    writeFileSync(join(etc, 'os-release'), 'VERSION_ID="12"\n');
    const app = join(d.path, 'app');
    mkdirSync(app);
    writeFileSync(join(app, 'settings.txt'), 'v1\n');
    const data = join(d.path, 'data');
    const config = writeAgentConfig(d.path, { device_id: 'pi-09', site: 'north', data_dir: data, ingest: { port: 1 }, health: { vcgencmd: null, nvme: null }, backup: { etc_root: etc, data_paths: [app], snapshot_interval_seconds: 86_400 } });
    const ingest = (n: number) => execFileSync(process.execPath, [agentEntry, 'ingest', '--config', config], { input: syntheticEvents(n, { payloadBytes: 100 }) });
    ingest(500);
    const probe = (...extra: string[]): BackupProbe => BackupProbeSchema.parse(JSON.parse(execFileSync(process.execPath, [agentEntry, 'backup-probe', '--config', config, '--classes', 'state,data', ...extra, '--json'], { encoding: 'utf8' })));
    const token = (p: BackupProbe, cls: 'state' | 'data'): string => {
      const c = p.classes[cls];
      if (c === undefined || !('token' in c)) throw new Error(`no token for ${cls}: ${JSON.stringify(c)}`);
      return c.token;
    };
    return { dir: d.path, app, config, ingest, probe, token };
  }

  it('gives the same token while nothing changes, and the stream carries the token taken at its start', async () => {
    const s = setup();
    const first = s.probe();
    expect(s.token(s.probe(), 'state')).toBe(s.token(first, 'state'));
    expect(s.token(s.probe(), 'data')).toBe(s.token(first, 'data'));
    const run = await runBackupStream(s.config, ['--class', 'data'], join(s.dir, 'data.tar'));
    expect(run.code, run.stderr).toBe(0);
    const out = join(s.dir, 'out');
    mkdirSync(out);
    expect(extractStream(run.tarPath, out).changeToken).toBe(s.token(first, 'data'));
    // Streaming the state (SQLite opened as root re-owns the -wal: its ctime moves) changes nothing a probe counts.
    const state = await runBackupStream(s.config, ['--class', 'state'], join(s.dir, 'state.tar'));
    expect(state.code, state.stderr).toBe(0);
    expect(s.token(s.probe(), 'state')).toBe(s.token(first, 'state'));
  }, 60_000);

  it('moves with new journal records, a rewrite keeping size and mtime, a new file and another --path', () => {
    const s = setup();
    const before = s.probe();
    s.ingest(10);
    const afterIngest = s.probe();
    expect(s.token(afterIngest, 'state')).not.toBe(s.token(before, 'state'));
    expect(s.token(afterIngest, 'data')).toBe(s.token(before, 'data'));

    // Same size, mtime put back: restic still sees the ctime move, and so does the token.
    const file = join(s.app, 'settings.txt');
    const stat = statSync(file);
    // touch -r keeps nanoseconds (a Date would round them away).
    const ref = join(s.dir, 'times.ref');
    execFileSync('touch', ['-r', file, ref]);
    writeFileSync(file, 'v2\n');
    execFileSync('touch', ['-r', ref, file]);
    expect(statSync(file).mtimeMs).toBe(stat.mtimeMs);
    const rewritten = s.probe();
    expect(s.token(rewritten, 'data')).not.toBe(s.token(afterIngest, 'data'));

    writeFileSync(join(s.app, 'new.bin'), 'x');
    const added = s.probe();
    expect(s.token(added, 'data')).not.toBe(s.token(rewritten, 'data'));
    expect(s.token(s.probe('--path', `data=${join(s.dir, 'elsewhere')}`), 'data')).not.toBe(s.token(added, 'data'));
  }, 60_000);

  it('says why for a class it cannot probe, and refuses a malformed --path', () => {
    const s = setup();
    const bad = execFileSync(process.execPath, [agentEntry, 'backup-probe', '--config', s.config, '--classes', 'secrets', '--json'], { encoding: 'utf8' });
    expect(BackupProbeSchema.parse(JSON.parse(bad)).classes.secrets).toBeDefined();
    expect(() => execFileSync(process.execPath, [agentEntry, 'backup-probe', '--config', s.config, '--classes', 'data', '--path', 'relative', '--json'], { stdio: 'pipe' })).toThrow(/--path takes <class>=\/absolute\/path/);
  });
});
