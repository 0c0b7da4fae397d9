/**
 * The device-side guard of an agent switch. Before `current` moves, a transient systemd
 * timer is armed on the Pi (`systemd-run --unit=fieldkit-agent-guard --on-active=…`) that,
 * when it fires, switches `current` back to the previous release, reinstalls that
 * release's unit and restarts it, logging why. The laptop disarms it only once every gate
 * passed (or once its own rollback is confirmed healthy). So a Pi that comes up unhealthy
 * puts itself back even when the laptop goes away mid-gate: a dropped link, a closed lid,
 * a killed job.
 *
 * The guard and the laptop agree through `<prefix>/guard/state` under `flock`: the guard
 * acts only while the state is `armed <token>` (this deploy's), and disarming flips it
 * first, so a guard firing at the same moment as the disarm does one thing or the other,
 * never half of each. Limit: a transient timer does not survive a reboot of the Pi.
 */
import { randomBytes } from 'node:crypto';
import { appError, type AppError } from '../../shared/errors.ts';
import { shellQuote } from '../kernel/link/shellQuote.ts';
import type { RemoteSteps } from './remoteSteps.ts';

export const guardUnit = 'fieldkit-agent-guard';

export type ArmedGuard = {
  token: string;
  /** Laptop clock: when the guard fires unless disarmed. */
  firesAt: number;
  seconds: number;
  previous: string;
};

/** The guard's window: the stability hold plus what every gate may take, plus a margin. */
export function guardSeconds(stableSeconds: number, linkKind: string): number {
  // Gate budget: the daemon's /health (≤ 60 s), hello (≤ 10 s), ingest (≤ 10 s), export; a
  // serial console runs each command several times slower.
  const gates = linkKind === 'serial' ? 240 : 90;
  return Math.ceil(stableSeconds) + gates + 30;
}

/** HH:MM:SS on the laptop's clock, for "the device will return … at". */
export function clockTime(ms: number): string {
  return new Date(ms).toTimeString().slice(0, 8);
}

function dir(prefix: string): string {
  return `${prefix}/guard`;
}

/**
 * The script the timer runs (as root): revert unless the state is no longer this
 * deploy's `armed` token. `revertScript` switches current back and reinstalls the unit.
 */
function guardScript(options: { prefix: string; token: string; version: string; previous: string; seconds: number; unit: string; revertScript: string }): string {
  const g = dir(options.prefix);
  const u = shellQuote(options.unit);
  return [
    '#!/bin/sh',
    `# Armed by a fieldkit deploy of ${options.version}; returns to ${options.previous} unless disarmed.`,
    `exec 9>>${shellQuote(`${g}/lock`)}`,
    'flock 9',
    `state=$(cat ${shellQuote(`${g}/state`)} 2>/dev/null || true)`,
    `if [ "$state" != ${shellQuote(`armed ${options.token}`)} ]; then echo "fieldkit-agent-guard: state is '$state', not this deploy's: nothing to do"; exit 0; fi`,
    `echo ${shellQuote(`fieldkit-agent-guard: ${options.version} was not confirmed healthy within ${String(options.seconds)} s of the switch (the laptop never disarmed this guard): returning to ${options.previous}`)}`,
    // Its own shell: `set -e` inside a subshell tested by `||` would be ignored.
    `sh -c ${shellQuote(options.revertScript)} || { echo "fieldkit-agent-guard: switching back failed"; echo "failed ${options.token} $(date -u +%FT%TZ)" > ${shellQuote(`${g}/state`)}; exit 1; }`,
    `systemctl reset-failed ${u} 2>/dev/null; systemctl restart ${u}`,
    `echo "fired ${options.token} $(date -u +%FT%TZ) returned to ${options.previous}" > ${shellQuote(`${g}/state.tmp`)} && mv -f ${shellQuote(`${g}/state.tmp`)} ${shellQuote(`${g}/state`)}`,
    `echo "fieldkit-agent-guard: ${options.previous} restarted"`,
  ].join('\n');
}

/**
 * Arms the guard (as root). `revertScript` is what the guard runs to go back (switch +
 * unit install, not yet the restart). Throws (link lost, command failed) like any step.
 */
export async function armGuard(
  remote: RemoteSteps,
  options: { prefix: string; unit: string; version: string; previous: string; seconds: number; revertScript: string },
): Promise<ArmedGuard> {
  const token = randomBytes(6).toString('hex');
  const g = dir(options.prefix);
  const script = guardScript({ ...options, token });
  const command = [
    'set -eu',
    `install -d -m 0700 ${shellQuote(g)}`,
    `printf %s ${shellQuote(Buffer.from(script).toString('base64'))} | base64 -d > ${shellQuote(`${g}/revert.sh.tmp`)} && mv -f ${shellQuote(`${g}/revert.sh.tmp`)} ${shellQuote(`${g}/revert.sh`)}`,
    `exec 9>>${shellQuote(`${g}/lock`)}`,
    'flock 9',
    // An earlier deploy's guard, finished or disarmed, must not block the unit name.
    `systemctl stop ${guardUnit}.timer 2>/dev/null || true`,
    `systemctl reset-failed ${guardUnit}.timer ${guardUnit}.service 2>/dev/null || true`,
    `echo ${shellQuote(`armed ${token}`)} > ${shellQuote(`${g}/state`)}`,
    `systemd-run --quiet --unit=${guardUnit} --description=${shellQuote(`fieldkit: return to ${options.previous} unless ${options.version} is confirmed healthy`)} --on-active=${String(options.seconds)}s --timer-property=AccuracySec=1s /bin/sh ${shellQuote(`${g}/revert.sh`)}`,
    `echo "armed: back to ${options.previous} in ${String(options.seconds)} s unless disarmed"`,
  ].join('\n');
  const armedAt = Date.now();
  await remote.must('switch', command, `Arming the device-side guard (${guardUnit})`, { sudo: true, shownAs: `arm ${guardUnit}: back to ${options.previous} in ${String(options.seconds)} s unless disarmed` });
  return { token, firesAt: armedAt + options.seconds * 1000, seconds: options.seconds, previous: options.previous };
}

/**
 * Disarms the guard; null when it was still armed (now it never fires), else the error
 * saying the guard already went back (the gates took longer than its window).
 */
export async function disarmGuard(remote: RemoteSteps, step: string, prefix: string, guard: ArmedGuard): Promise<AppError | null> {
  const g = dir(prefix);
  const command = [
    `exec 9>>${shellQuote(`${g}/lock`)}`,
    'flock 9',
    `state=$(cat ${shellQuote(`${g}/state`)} 2>/dev/null || true)`,
    `if [ "$state" = ${shellQuote(`armed ${guard.token}`)} ]; then echo "disarmed ${guard.token} $(date -u +%FT%TZ)" > ${shellQuote(`${g}/state`)}; systemctl stop ${guardUnit}.timer 2>/dev/null || true; echo disarmed; exit 0; fi`,
    'echo "$state"; exit 3',
  ].join('\n');
  const result = await remote.run(step, command, { sudo: true, shownAs: `disarm ${guardUnit}` });
  if (result.code === 0) return null;
  const state = result.stdout.toString('utf8').trim();
  return appError(
    'UNAVAILABLE',
    `The device-side guard had already acted (${state || 'state unknown'}): the gates took longer than its ${String(guard.seconds)} s window, so the device went back to ${guard.previous} by itself.`,
    'Deploy again; if the link is slow, check it first (the guard window covers the stability hold plus the gates).',
  );
}
