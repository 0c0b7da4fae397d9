/**
 * The CLI answers the same way everywhere, through the real `fieldkit` process: a device
 * is its name or id in every command (an ambiguous name is refused with the candidates),
 * a wrong argument exits 2 with the message once and the usage (never a contract message),
 * numbers are checked against the API's own bounds, a pull says what it did in a sentence
 * and counts each record once, job progress reads in its unit, and the courier table's
 * figures are seqs against seqs. Also: the package declares `fieldkit` as its bin, and the
 * launcher works through a symlink, as `npm link` and node_modules/.bin make it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lstatSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { JobEventSchema } from '../../shared/jobs.ts';
import { syntheticEvents } from '../support/agentEvents.ts';
import { startCourierRig, type CourierRig } from '../support/courierRig.ts';
import { runCliProcess, type CliRun } from '../support/runCliProcess.ts';
import { makeTempDir } from '../support/tempDir.ts';

let rig: CourierRig;
const name = 'pi-31';
beforeAll(async () => {
  rig = await startCourierRig({ deviceId: name });
  // Two devices share a name: a name must then be refused, not guessed.
  for (const agentCommand of ['true twin-a', 'true twin-b']) await rig.services.handlers['devices.add']({ name: 'twin', link: { kind: 'local', agentCommand } });
});
afterAll(async () => {
  await rig.close();
});

const fieldkit = (...args: string[]): Promise<CliRun> => runCliProcess(['--data-dir', rig.dataDir, ...args]);

function expectUsageError(run: CliRun, command: string, message: RegExp): void {
  expect(run.code, run.stderr).toBe(2);
  expect(run.stderr).toMatch(message);
  expect(run.stderr).toContain(`Usage: fieldkit ${command}`);
  expect(run.stderr).not.toMatch(/Invalid request|contract|shared\/api\.ts|expected number|Too big/);
  // Once: the message is not repeated.
  const first = message.exec(run.stderr)?.[0] ?? '';
  expect(run.stderr.split(first).length - 1).toBe(1);
}

describe('fieldkit pull', () => {
  it('takes the device by name, says what it did in a sentence, and counts safety events once', async () => {
    rig.ingest(syntheticEvents(1000));
    const run = await fieldkit('pull', name);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).not.toContain('{');
    // 11 of the 1,000 are safety events, read first and again by the full read: 1,000 records, not 1,011.
    expect(run.stdout).toMatch(/^Pulled 1,000 records from pi-31, safety events first\.\nthis laptop holds every seq through 1,000 of the device's 1,000\.\n/);
    expect(run.stdout).toContain('Next: fieldkit forward, then fieldkit reconcile.');

    const json = await fieldkit('--json', 'pull', rig.deviceRef);
    const done = json.stdout.trim().split('\n').map((l) => JobEventSchema.parse(JSON.parse(l))).at(-1);
    expect(done).toMatchObject({ type: 'done', result: { journals: [{ pulled: 0, new_records: 0, contiguous_seq: 1000 }] } });
  });

  it('jobs show gives a pull\'s progress in records, not bytes', async () => {
    const { jobs } = await rig.services.handlers['jobs.list']({ limit: 10 });
    // The first pull (jobs come newest first): 1,000 records.
    const pull = jobs.filter((j) => j.kind === 'courier.pull').at(-1);
    if (pull === undefined) throw new Error('no pull job');
    const run = await fieldkit('jobs', 'show', pull.id);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/progress: [a-z ]+, 1,000 of 1,000, /);
    expect(run.stdout).not.toMatch(/progress: .*kB/);
  });

  it('the courier table: through seq never beyond the device\'s seq, even when the device journals during the pull; losses as a number', async () => {
    rig.ingest(syntheticEvents(30_000));
    const { jobId } = await rig.services.handlers['courier.pull']({ id: rig.deviceRef });
    // The device keeps journaling while the pull reads: the pull's first look at the head is soon out of date.
    for (let i = 0; i < 2000 && rig.held().n <= 1000; i++) await new Promise((r) => setTimeout(r, 10));
    rig.ingest(syntheticEvents(500));
    expect((await rig.services.jobs.whenFinished(jobId)).state).toBe('done');
    const run = await fieldkit('courier');
    expect(run.code).toBe(0);
    const row = run.stdout.split('\n').find((l) => l.startsWith(name)) ?? '';
    const match = /([\d,]+) of ([\d,]+)/.exec(row);
    const [through, of] = [Number(match?.[1]?.replaceAll(',', '')), Number(match?.[2]?.replaceAll(',', ''))];
    expect(through).toBeGreaterThanOrEqual(31_000);
    expect(through).toBeLessThanOrEqual(of);
    expect(of).toBeLessThanOrEqual(rig.agentJournal().last_seq);
    expect(row).toMatch(/\s0\s+0\s+\d{4}-/);
  });
});

describe('device arguments', () => {
  it('are a name or an id in every command', async () => {
    const renamed = await fieldkit('devices', 'update', name, '--site', 'north-yard');
    expect(renamed.code, renamed.stderr).toBe(0);
    expect(renamed.stdout).toContain(`${rig.deviceRef}: ${name} at north-yard`);
    const byId = await fieldkit('devices', 'update', rig.deviceRef, '--site', 'depot');
    expect(byId.code, byId.stderr).toBe(0);
    const connected = await fieldkit('devices', 'connect', name);
    expect(connected.code, connected.stderr).toBe(0);
    expect(connected.stdout).toContain(`${name}: agent`);
    // Not a usage problem: past the argument, the service answers for itself (no ClickHouse here).
    const reconcile = await fieldkit('reconcile', '--device', name);
    expect(reconcile.code).toBe(1);
    expect(reconcile.stderr).toContain('No ClickHouse server is set up yet.');
  });

  it.each([
    ['pull', ['pull', 'no-such-pi']],
    ['devices remove', ['devices', 'remove', 'no-such-pi']],
    ['devices connect', ['devices', 'connect', 'no-such-pi']],
    ['slot-update', ['slot-update', 'no-such-pi', '/nonexistent.fkimg']],
    ['deploy', ['deploy', '/nonexistent.tar', '--to', 'no-such-pi']],
    ['reconcile', ['reconcile', '--device', 'no-such-pi']],
  ])('an unknown device in %s: exit 2, what is wrong once, and the usage', async (command, args) => {
    expectUsageError(await fieldkit(...args), command, /No device is called no-such-pi\./);
  });

  it('an ambiguous name is refused, listing the candidates', async () => {
    const { devices } = await rig.services.handlers['devices.list']({});
    const twins = devices.filter((d) => d.name === 'twin').map((d) => d.id);
    const run = await fieldkit('pull', 'twin');
    expectUsageError(run, 'pull', /2 devices are named twin: /);
    for (const id of twins) expect(run.stderr).toContain(id);
    const json = await fieldkit('--json', 'devices', 'remove', 'twin');
    expect(json.code).toBe(2);
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST', field: 'device' } });
  });
});

describe('wrong arguments', () => {
  it('numbers are held to the bounds the API enforces, at the command line', async () => {
    expectUsageError(await fieldkit('reconcile', '--max-ranges', '10001'), 'reconcile', /expected a whole number from 1 to 10000\./);
    expectUsageError(await fieldkit('jobs', 'list', '--limit', '501'), 'jobs list', /expected a whole number from 1 to 500\./);
    expectUsageError(await fieldkit('devices', 'discover', '--port', 'ssh'), 'devices discover', /expected a whole number from 1 to 65535\./);
    expectUsageError(await fieldkit('forward', '--retry-for', '7200'), 'forward', /expected a whole number from 0 to 3600\./);
    // The bound itself is accepted: the command gets as far as the missing server.
    const atBound = await fieldkit('reconcile', '--max-ranges', '10000');
    expect(atBound.code).toBe(1);
    expect(atBound.stderr).toContain('No ClickHouse server is set up yet.');
  });

  it('ids, reasons and job ids the contract refuses are worded for the command line', async () => {
    expectUsageError(await fieldkit('quarantine', 'discard', 'abc', '--reason', 'bad sensor'), 'quarantine discard', /"abc" is not a quarantine id\./);
    expectUsageError(await fieldkit('quarantine', 'discard', '1', '--reason', 'x'), 'quarantine discard', /--reason is not accepted: say why these rows are discarded/);
    expectUsageError(await fieldkit('jobs', 'show', 'nope'), 'jobs show', /The argument given is not accepted: a job id looks like job_/);
  });

  it('a refused image is said once', async () => {
    const dir = makeTempDir();
    try {
      const image = join(dir.path, 'plain.img');
      writeFileSync(image, Buffer.alloc(1024 * 1024));
      const run = await fieldkit('flash', image, '--to', '/dev/null', '--yes');
      expect(run.code).toBe(1);
      expect(run.stderr.match(/is an unsigned image, and flashing unsigned images is off/g)).toHaveLength(1);
      expect(run.stderr).toContain('what to do:');
    } finally {
      dir.remove();
    }
  });
});

describe('the fieldkit bin', () => {
  it('is declared in package.json and runs through a symlink on PATH, from anywhere', async () => {
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { bin?: Record<string, string> };
    const target = pkg.bin?.fieldkit;
    expect(target).toBeDefined();
    const dir = makeTempDir();
    try {
      const binDir = join(dir.path, 'bin');
      mkdirSync(binDir);
      symlinkSync(resolve(target ?? ''), join(binDir, 'fieldkit'));
      expect(lstatSync(join(binDir, 'fieldkit')).isSymbolicLink()).toBe(true);
      const run = await new Promise<{ code: number | null; stdout: string }>((done, fail) => {
        const child = spawn('fieldkit', ['--version'], { cwd: dir.path, env: { ...process.env, PATH: `${binDir}:${process.env.PATH ?? ''}` }, stdio: ['ignore', 'pipe', 'inherit'] });
        let stdout = '';
        child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
        child.on('error', fail);
        child.on('close', (code) => {
          done({ code, stdout });
        });
      });
      expect(run.code).toBe(0);
      expect(run.stdout.trim()).toBe((JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version);
    } finally {
      dir.remove();
    }
  });
});
