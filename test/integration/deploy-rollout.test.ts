/**
 * `fieldkit rollout` on a virtual site of five real systemd Pis already running the base
 * agent: a canary batch then 50% at a time brings every Pi to the new version, healthy;
 * a bundle whose agent crashes stops the rollout after its canary rolled back (the other
 * Pis untouched); a rollout whose CLI is killed halfway resumes after a restart on the
 * same data folder and finishes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Rollout } from '../../shared/deploy.ts';
import { runCli } from '../../electron/cli/program.ts';
import type { CliIo } from '../../electron/kernel/cli/cliIo.ts';
import { createRolloutStore } from '../../electron/deploy/rolloutStore.ts';
import { openStore } from '../../electron/kernel/store/openStore.ts';
import { startCliProcess } from '../support/runCliProcess.ts';
import { startRolloutSite, type RolloutSite } from '../support/rolloutSite.ts';
import { childPids, isProcessRunning, waitFor } from '../support/waitFor.ts';

let rig: RolloutSite;
let v2 = '';
let crashing = '';
let v3 = '';

beforeAll(async () => {
  rig = await startRolloutSite({ count: 5, name: 'ro' });
  [v2, crashing, v3] = await Promise.all([rig.bundles.variant('0.2.0-rollout'), rig.bundles.variant('0.3.0-crash', { crash: true }), rig.bundles.variant('0.4.0-rollout')]);
}, 240_000);

afterAll(async () => {
  await rig.stop();
});

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const io: CliIo = { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t), interactive: false };
  const code = await runCli(['--data-dir', rig.dataDir, ...args], io);
  return { code, stdout, stderr };
}

function newest(): Rollout {
  const db = openStore(rig.dataDir);
  try {
    const [latest] = createRolloutStore(db).list(1);
    if (latest === undefined) throw new Error('no rollout');
    return createRolloutStore(db).get(latest.id);
  } finally {
    db.close();
  }
}

function explain(rollout: Rollout): string {
  return rollout.devices.map((d) => `${d.deviceName} ${d.status}: ${d.error?.message ?? ''}\n${d.transcript.map((t) => `  [${t.step}] ${t.command.slice(0, 120)} → ${String(t.exitCode)} ${t.output.slice(-300)}`).join('\n')}`).join('\n');
}

describe('fieldkit rollout on five virtual Pis', () => {
  it('updates every Pi with a canary first, then 50% at a time; each ends healthy on the new version', async () => {
    const run = await cli(['rollout', v2, '--all', '--batches', '1,50%', '--stable-seconds', '2']);
    const rollout = newest();
    expect(run.code, `${run.stderr}\n${explain(rollout)}`).toBe(0);
    expect(rollout.state).toBe('completed');
    expect(rollout.devices.map((d) => [d.deviceName, d.batch, d.status])).toEqual([
      ['ro-1', 0, 'updated'],
      ['ro-2', 1, 'updated'],
      ['ro-3', 1, 'updated'],
      ['ro-4', 1, 'updated'],
      ['ro-5', 2, 'updated'],
    ]);
    // The canary finished before anything else started.
    const canaryEnd = rollout.devices[0]?.endedAt ?? Infinity;
    expect(rollout.devices.slice(1).every((d) => (d.startedAt ?? 0) >= canaryEnd)).toBe(true);
    expect(rollout.devices.every((d) => d.fromVersion === rig.bundles.base.version && d.toVersion === '0.2.0-rollout')).toBe(true);
    for (const pi of rig.site.pis) expect(await rig.state(pi)).toEqual({ current: 'releases/0.2.0-rollout', active: 'active', hello: '0.2.0-rollout' });
    // The terminal said how it went: a line per device as it finished, the table at the end.
    expect(run.stderr).toMatch(/ro-1: updated .* → 0\.2\.0-rollout/);
    expect(run.stdout).toContain('completed');
    expect(run.stdout).toMatch(/ro-5\s+updated/);

    // `fieldkit deploy` of the version already there changes nothing, and says so in JSON.
    const again = await cli(['--json', 'deploy', v2, '--to', 'ro-1', '--to', 'ro-2', '--stable-seconds', '2']);
    expect(again.code, again.stderr).toBe(0);
    const lines = again.stdout.trim().split('\n');
    const last = JSON.parse(lines.at(-1) ?? '{}') as { rollout: Rollout };
    expect(last.rollout.devices.map((d) => [d.deviceName, d.batch, d.status, d.bytesSent])).toEqual([
      ['ro-1', 0, 'unchanged', 0],
      ['ro-2', 0, 'unchanged', 0],
    ]);
    // The job's events went out as NDJSON before the final rollout.
    expect(lines.some((line) => line.includes('"type":"progress"'))).toBe(true);
  }, 120_000);

  it('stops after a crashing canary rolls back: the other Pis are skipped and untouched, the exit code says so', async () => {
    const run = await cli(['rollout', crashing, '--all', '--batches', '1,50%', '--stable-seconds', '2']);
    const rollout = newest();
    expect(run.code, explain(rollout)).toBe(1);
    expect(rollout.state).toBe('stopped');
    expect(rollout.devices.map((d) => d.status)).toEqual(['rolled-back', 'skipped', 'skipped', 'skipped', 'skipped']);
    const canary = rollout.devices[0];
    expect(canary?.gateFailed).not.toBeNull();
    expect(canary?.unitLog.join('\n')).toContain('crashing at start on purpose');
    expect(rollout.stopReason).toContain('batch 1 (the canary)');
    expect(rollout.stopReason).toContain('ro-1');
    // Untouched devices ran no command at all.
    expect(rollout.devices.slice(1).every((d) => d.transcript.length === 0 && d.startedAt === null)).toBe(true);
    for (const pi of rig.site.pis) expect(await rig.state(pi)).toEqual({ current: 'releases/0.2.0-rollout', active: 'active', hello: '0.2.0-rollout' });
    expect(run.stdout).toContain(`fieldkit rollout resume ${rollout.id}`);

    const shown = await cli(['rollout', 'show', rollout.id, '--transcript', 'ro-1']);
    expect(shown.stdout).toMatch(/rollback/i);
    expect(shown.stdout).toMatch(/exit \d+/);
  }, 120_000);

  it('resumes a rollout whose CLI was killed halfway, after a restart on the same data folder', async () => {
    const child = startCliProcess(['--data-dir', rig.dataDir, 'rollout', v3, '--all', '--batches', '1,2', '--stable-seconds', '3']);
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    const exited = new Promise<void>((resolve) => child.on('close', () => { resolve(); }));
    // Kill it (as a crash or a closed lid would) while batch 2 is deploying.
    const deadline = Date.now() + 90_000;
    for (;;) {
      if (Date.now() > deadline) throw new Error(`batch 2 never started:\n${stderr}`);
      const r = (() => {
        try {
          return newest();
        } catch {
          return null;
        }
      })();
      if (r !== null && r.version === '0.4.0-rollout' && r.devices[0]?.status === 'updated' && r.devices.some((d) => d.batch === 1 && d.status === 'running')) break;
      await new Promise((resolve) => setTimeout(resolve, 100)); // a poll interval under the deadline above
    }
    // The CLI's children (the rollout's job worker), read before the kill re-parents them.
    const workers = childPids(child.pid ?? -1);
    expect(workers.length, 'the CLI runs its rollout in a job worker').toBeGreaterThan(0);
    child.kill('SIGKILL');
    await exited;
    // Its worker notices the app went away and stops (it exits at most 2 s after the disconnect):
    // the resume below must not race a worker still deploying.
    await waitFor(() => workers.every((pid) => !isProcessRunning(pid)), { timeoutMs: 15_000, what: `the killed CLI's job worker (pid ${workers.join(', ')}) to exit` });

    const services = await rig.open();
    try {
      const { rollouts } = await services.handlers['deploy.list']({ limit: 1 });
      const stopped = rollouts[0];
      if (stopped === undefined) throw new Error('no rollout');
      expect(stopped.state).toBe('stopped');
      expect(stopped.stopReason).toMatch(/went away|fieldkit stopped/);
      expect(stopped.devices[0]?.status).toBe('updated');
      expect(stopped.devices.filter((d) => d.status === 'updated').length).toBeLessThan(5);

      const { jobId } = await services.handlers['deploy.resume']({ rolloutId: stopped.id });
      const job = await services.jobs.whenFinished(jobId);
      const { rollout } = await services.handlers['deploy.get']({ rolloutId: stopped.id });
      expect(job.state, explain(rollout)).toBe('done');
      expect(rollout.state).toBe('completed');
      expect(rollout.devices.every((d) => d.status === 'updated')).toBe(true);
      // The canary was not deployed again; a device caught mid-deploy was.
      expect(rollout.devices[0]?.transcript.some((t) => t.command.includes('resumed'))).toBe(false);
      expect(rollout.devices.some((d) => d.transcript.some((t) => t.command.includes('resumed')))).toBe(true);
      expect(job.log.some((l) => l.message.includes('already run this version'))).toBe(true);
    } finally {
      await services.close();
    }
    for (const pi of rig.site.pis) expect(await rig.state(pi)).toEqual({ current: 'releases/0.4.0-rollout', active: 'active', hello: '0.4.0-rollout' });
  }, 180_000);
});
