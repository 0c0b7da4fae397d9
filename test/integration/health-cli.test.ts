/**
 * `fieldkit health` as a technician runs it: the real CLI process, a real agent (from
 * source, on copies of the Pi fixture trees) over the Local link. The fleet table once,
 * `--json` streaming one view per sample, the live view ending on Ctrl-C, and the
 * thresholds in `fieldkit settings health`.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeviceHealthViewSchema } from '../../shared/fleetHealth.ts';
import { freePort } from '../../electron/kernel/net/freePort.ts';
import { startAgentDaemon, type AgentDaemon } from '../support/agentDaemonProcess.ts';
import { agentRpcArgs, createAgentRpcRig, type AgentRpcRig } from '../support/agentRpcFixture.ts';
import { runCliProcess, startCliProcess } from '../support/runCliProcess.ts';
import { makeTempDir } from '../support/tempDir.ts';

const dir = makeTempDir('fieldkit-health-cli-');
const env = { FIELDKIT_DATA_DIR: join(dir.path, 'data') };
let warm: AgentRpcRig;
let cool: AgentRpcRig;

function quote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}
function agentCommand(rig: AgentRpcRig): string {
  return [process.execPath, ...agentRpcArgs(rig.configPath)].map(quote).join(' ');
}

const daemons: AgentDaemon[] = [];

/** An agent with its daemon running (no daemon, no OK: samples say whether it runs). */
async function agentWithDaemon(deviceId: string): Promise<AgentRpcRig> {
  const port = await freePort();
  const rig = createAgentRpcRig({ device_id: deviceId, ingest: { port } });
  daemons.push(await startAgentDaemon(rig.configPath, port));
  return rig;
}

beforeAll(async () => {
  warm = await agentWithDaemon('pi-warm');
  cool = await agentWithDaemon('pi-cool');
  writeFileSync(join(warm.dir, 'pi/sys/class/thermal/thermal_zone0/temp'), '81500\n');
  for (const [name, rig] of [['pi-warm', warm], ['pi-cool', cool]] as const) {
    const added = await runCliProcess(['devices', 'add', '--local', agentCommand(rig), '--name', name, '--site', 'depot'], env);
    expect(added.code, added.stderr).toBe(0);
  }
}, 30_000);

afterAll(() => {
  for (const d of daemons) d.child.kill('SIGKILL');
  warm.remove();
  cool.remove();
  dir.remove();
});

describe('fieldkit health', () => {
  it('prints the fleet table once, worst first, with the alert and throttling in words', async () => {
    const run = await runCliProcess(['health'], env);
    expect(run.code, run.stderr).toBe(0);
    const lines = run.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^DEVICE\s+STATUS\s+TEMP\s+CPU\s+DISK\s+BACKLOG\s+THROTTLING/);
    expect(lines[1]).toMatch(/^pi-warm\s+WARNING\s+81\.5 °C.*none.*82 °C — hot|^pi-warm\s+WARNING\s+81\.5 °C.*none.*81 °C — hot/);
    expect(lines[2]).toMatch(/^pi-cool\s+OK\s+52\.4 °C/);
    const json = await runCliProcess(['--json', 'health'], env);
    const { views } = JSON.parse(json.stdout) as { views: unknown[] };
    expect(views.map((v) => DeviceHealthViewSchema.parse(v).status)).toEqual(['warning', 'ok']);
  }, 40_000);

  it('streams one view per sample as NDJSON', async () => {
    const run = await runCliProcess(['--json', 'health', 'pi-cool', '--for', '4'], env);
    expect(run.code, run.stderr).toBe(0);
    const views = run.stdout.trim().split('\n').map((line) => DeviceHealthViewSchema.parse(JSON.parse(line)));
    expect(views.every((v) => v.deviceName === 'pi-cool')).toBe(true);
    // A line per sample; a second without a new sample (a loaded machine) still gets a line,
    // which carries the last sample it has, or none yet while connecting.
    const samples = new Map(views.flatMap((v) => (v.sample === null ? [] : [[v.sample.at_ms, v.sample] as const])));
    expect(samples.size).toBeGreaterThanOrEqual(2);
    expect([...samples.values()].every((sample) => sample.device_id === 'pi-cool')).toBe(true);
    for (const v of views) if (v.sample === null) expect(['connecting', 'stale', 'unreachable']).toContain(v.status);
  }, 30_000);

  it('redraws the live view each second with alerts and what to do, and stops on Ctrl-C', async () => {
    const child = startCliProcess(['health', 'pi-warm'], env);
    let out = '';
    child.stdout?.on('data', (d: Buffer) => (out += d.toString('utf8')));
    const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
    const deadline = Date.now() + 20_000;
    while ((out.match(/temperature\s+81\.5 °C/g) ?? []).length < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
    child.kill('SIGINT');
    expect(await closed).toBe(0);
    expect(out).toMatch(/pi-warm \(depot\) — WARNING/);
    expect(out).toMatch(/throttling\s+none/);
    expect(out).toMatch(/WARNING\s+8[12] °C — hot/);
    expect(out).toMatch(/→ Check the fan and heatsink/);
    expect(out).toMatch(/versions\s+agent \S+, model yolov8n-2026\.01/);
  }, 30_000);

  it('shows and changes the thresholds, refusing a warning above the critical one', async () => {
    const set = await runCliProcess(['settings', 'health', '--temp-warning', '85', '--temp-critical', '90'], env);
    expect(set.code, set.stderr).toBe(0);
    expect(set.stdout).toMatch(/warning 85 °C, critical 90 °C/);
    const fleet = await runCliProcess(['health'], env);
    expect(fleet.stdout).toMatch(/pi-warm\s+OK/);
    const bad = await runCliProcess(['settings', 'health', '--temp-warning', '95'], env);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/must be below the critical one[\s\S]*what to do: Lower the warning/);
    const reset = await runCliProcess(['--json', 'settings', 'health', '--reset'], env);
    expect((JSON.parse(reset.stdout) as { thresholds: { tempWarningC: number } }).thresholds.tempWarningC).toBe(80);
  }, 40_000);

  it('says what to do when there is no history yet, and when the device is unknown', async () => {
    const history = await runCliProcess(['health', 'pi-cool', '--history'], env);
    expect(history.code).toBe(0);
    expect(history.stdout).toMatch(/No health history of pi-cool on this laptop yet: pull the device/);
    const unknown = await runCliProcess(['health', 'pi-nowhere'], env);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/No device is called pi-nowhere/);
  }, 20_000);

  it('keeps writing a view each second with --json while the device is silent, saying it is stale', async () => {
    const flaky = createAgentRpcRig({ device_id: 'pi-flaky' });
    const pidFile = join(flaky.dir, 'rpc.pid');
    const downFile = join(flaky.dir, 'down');
    try {
      const command = `if [ -e ${quote(downFile)} ]; then echo 'agent is down' >&2; exit 3; fi; echo $$ > ${quote(pidFile)}; exec ${agentCommand(flaky)}`;
      expect((await runCliProcess(['devices', 'add', '--local', command, '--name', 'pi-flaky', '--site', 'depot'], env)).code).toBe(0);
      expect((await runCliProcess(['settings', 'health', '--stale-seconds', '3'], env)).code).toBe(0);
      const child = startCliProcess(['--json', 'health', 'pi-flaky', '--for', '16'], env);
      const lines: { atMs: number; view: ReturnType<typeof DeviceHealthViewSchema.parse> }[] = [];
      let partial = '';
      child.stdout?.on('data', (d: Buffer) => {
        partial += d.toString('utf8');
        const complete = partial.split('\n');
        partial = complete.pop() ?? '';
        for (const line of complete) if (line !== '') lines.push({ atMs: Date.now(), view: DeviceHealthViewSchema.parse(JSON.parse(line)) });
      });
      const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
      const deadline = Date.now() + 20_000;
      while (lines.filter((l) => l.view.sample !== null).length < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
      writeFileSync(downFile, '');
      const killedAt = Date.now();
      process.kill(Number(readFileSync(pidFile, 'utf8')), 'SIGKILL');
      expect(await closed).toBe(0);
      const after = lines.filter((l) => l.atMs > killedAt);
      // A line each second all along, not silence (the first once the last sample is 1.5 s old).
      expect((after[0]?.atMs ?? Infinity) - killedAt).toBeLessThanOrEqual(2700);
      const gaps = after.slice(1).map((l, i) => l.atMs - (after[i]?.atMs ?? l.atMs));
      expect(gaps.length).toBeGreaterThanOrEqual(10);
      expect(Math.max(...gaps)).toBeLessThanOrEqual(1700);
      const stale = after.filter((l) => l.view.status === 'stale');
      expect(stale.length).toBeGreaterThanOrEqual(5);
      for (const l of stale) expect(l.view.alerts.map((a) => a.code)).toContain('stale');
      expect(stale.at(-1)?.view.alerts.find((a) => a.code === 'stale')?.title).toMatch(/^No sample for (9|1\d) s$/);
    } finally {
      await runCliProcess(['settings', 'health', '--reset'], env);
      flaky.remove();
    }
  }, 60_000);
});
