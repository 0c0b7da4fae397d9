import { mkdtempSync, rmSync, writeFileSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Drive } from '../../shared/drives.ts';
import { assessDrives } from '../../electron/drives/assessDrive.ts';
import { watchDeviceNodes } from '../../electron/drives/deviceNodeEvents.ts';
import { startDriveWatcher } from '../../electron/drives/driveWatcher.ts';
import { rawDrive } from '../support/rawDrive.ts';

function drives(...devices: string[]): Drive[] {
  return assessDrives(devices.map((device) => rawDrive({ device })), { dataDir: '/home/tech/.config/fieldkit', sourcePaths: [], swapDevices: [] });
}

/** A list() whose answers the test releases one at a time, to hold a poll in flight. */
function gatedList(answers: Drive[][]) {
  const pending: (() => void)[] = [];
  let calls = 0;
  return {
    calls: () => calls,
    release: () => pending.shift()?.(),
    list: () =>
      new Promise<Drive[]>((resolve) => {
        const answer = answers[Math.min(calls, answers.length - 1)] ?? [];
        calls++;
        pending.push(() => { resolve(answer); });
      }),
  };
}

describe('drive watcher', () => {
  it('polls once more after a nudge that came while a poll was in flight, so the change is not missed', async () => {
    const gate = gatedList([[], drives('/dev/sdb')]);
    const changes: string[][] = [];
    const watcher = startDriveWatcher({ list: gate.list, onChange: (d) => changes.push(d.map((x) => x.device)), intervalMs: 60_000 });
    expect(gate.calls()).toBe(1);
    watcher.nudge(); // the card went in while lsblk was already running
    gate.release();
    await expect.poll(() => gate.calls()).toBe(2);
    gate.release();
    await expect.poll(() => changes).toEqual([['/dev/sdb']]);
    watcher.stop();
  });

  it('reports only what changed, and nothing after stop', async () => {
    const gate = gatedList([drives('/dev/sdb'), drives('/dev/sdb'), []]);
    const changes: string[][] = [];
    const watcher = startDriveWatcher({ list: gate.list, onChange: (d) => changes.push(d.map((x) => x.device)), intervalMs: 60_000 });
    gate.release();
    await expect.poll(() => watcher.current()?.length).toBe(1);
    watcher.nudge();
    gate.release();
    await expect.poll(() => gate.calls()).toBe(2);
    expect(changes).toEqual([]); // the same list is no change
    watcher.nudge();
    watcher.stop();
    gate.release();
    gate.release();
    await new Promise((resolve) => setTimeout(resolve, 20)); // the point: a stopped watcher reports nothing, even given time
    expect(changes).toEqual([]);
  });
});

describe('device node events', () => {
  it('nudges when a block device node comes or goes, and ignores serial ports', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fieldkit-dev-'));
    let nudges = 0;
    const stop = watchDeviceNodes(() => nudges++, { dir, debounceMs: 20 });
    try {
      writeFileSync(join(dir, 'ttyUSB0'), '');
      await new Promise((resolve) => setTimeout(resolve, 150)); // the point: longer than the debounce, and still no nudge
      expect(nudges).toBe(0);
      writeFileSync(join(dir, 'sdb'), '');
      writeFileSync(join(dir, 'sdb1'), ''); // a burst of nodes is one nudge
      await expect.poll(() => nudges).toBe(1);
      unlinkSync(join(dir, 'sdb1'));
      await expect.poll(() => nudges).toBe(2);
    } finally {
      stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
