/**
 * `fieldkit health` as a technician runs it: the real CLI process, a real agent (from
 * source, on copies of the Pi fixture trees) over the Local link. The fleet table once,
 * `--json` streaming one view per sample, the live view ending on Ctrl-C, and the
 * thresholds in `fieldkit settings health`.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeviceHealthViewSchema } from '../../shared/fleetHealth.ts';
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

beforeAll(async () => {
  warm = createAgentRpcRig({ device_id: 'pi-warm' });
  cool = createAgentRpcRig({ device_id: 'pi-cool' });
  writeFileSync(join(warm.dir, 'pi/sys/class/thermal/thermal_zone0/temp'), '81500\n');
  for (const [name, rig] of [['pi-warm', warm], ['pi-cool', cool]] as const) {
    const added = await runCliProcess(['devices', 'add', '--local', agentCommand(rig), '--name', name, '--site', 'depot'], env);
    expect(added.code, added.stderr).toBe(0);
  }
}, 30_000);

afterAll(() => {
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
    expect(views.length).toBeGreaterThanOrEqual(2);
    const stamps = views.map((v) => v.sample?.at_ms ?? 0);
    expect(new Set(stamps).size).toBe(views.length);
    expect(views.every((v) => v.deviceName === 'pi-cool' && v.sample?.device_id === 'pi-cool')).toBe(true);
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
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/No device is called pi-nowhere/);
  }, 20_000);
});
