/**
 * systemd on the device, as a deploy needs it: restart a unit and note its restart counter,
 * hold it to "active without restarting" for a while (one command polling on the device,
 * not a round trip per second), and read its last log lines when something failed.
 */
import { appError, type AppError } from '../../shared/errors.ts';
import { shellQuote } from '../kernel/link/shellQuote.ts';
import type { RemoteSteps } from './remoteSteps.ts';

export type UnitState = { activeState: string; nRestarts: number; mainPid: number };

function parseState(text: string): UnitState {
  const values = new Map(
    text
      .split('\n')
      .filter((l) => l.includes('='))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1).trim()]),
  );
  return { activeState: values.get('ActiveState') ?? '', nRestarts: Number(values.get('NRestarts') ?? 0) || 0, mainPid: Number(values.get('MainPID') ?? 0) || 0 };
}

export async function unitState(remote: RemoteSteps, step: string, unit: string): Promise<UnitState> {
  const result = await remote.run(step, `systemctl show -p ActiveState -p NRestarts -p MainPID ${shellQuote(unit)}`);
  return parseState(result.stdout.toString('utf8'));
}

export async function restartUnit(remote: RemoteSteps, step: string, unit: string): Promise<UnitState> {
  // A release that crash-looped may have used up systemd's start limit: clear it, or the
  // restart of the release going back in would be refused.
  await remote.must(step, `systemctl reset-failed ${shellQuote(unit)} 2>/dev/null; systemctl restart ${shellQuote(unit)}`, `Restarting ${unit}`, { sudo: true, timeoutMs: 60_000 });
  return unitState(remote, step, unit);
}

/**
 * Holds the unit to ActiveState=active with NRestarts at `baseline` until `untilMs`
 * (laptop clock; at least one check). Null when it held, else what went wrong.
 */
export async function holdsStable(remote: RemoteSteps, step: string, unit: string, baseline: number, untilMs: number): Promise<AppError | null> {
  const seconds = Math.max(1, Math.ceil((untilMs - Date.now()) / 1000));
  const u = shellQuote(unit);
  const script = [
    `i=0; while :; do`,
    `  s=$(systemctl show -p ActiveState --value ${u}); n=$(systemctl show -p NRestarts --value ${u})`,
    `  if [ "$s" != active ] || [ "$n" != ${String(baseline)} ]; then echo "ActiveState=$s NRestarts=$n after $i s"; exit 1; fi`,
    `  i=$((i+1)); [ "$i" -gt ${String(seconds)} ] && break; sleep 1`,
    `done; echo "active, NRestarts=$n for ${String(seconds)} s"`,
  ].join('\n');
  const result = await remote.run(step, script, { timeoutMs: (seconds + 30) * 1000 });
  if (result.code === 0) return null;
  const seen = result.stdout.toString('utf8').trim();
  return appError('UNAVAILABLE', `${unit} did not stay up: ${seen || 'no answer'} (it must run ${String(seconds)} s without restarting).`, 'Read the unit log lines below for why it stopped or restarted.');
}

/** The unit's last `lines` journal lines (sudo: the login user may not read the system journal). */
export async function unitLog(remote: RemoteSteps, step: string, unit: string, lines = 30): Promise<string[]> {
  const result = await remote.run(step, `journalctl -u ${shellQuote(unit)} -n ${String(lines)} --no-pager -o short-iso`, { sudo: true });
  return result.stdout
    .toString('utf8')
    .split('\n')
    .filter((line) => line.trim() !== '');
}
