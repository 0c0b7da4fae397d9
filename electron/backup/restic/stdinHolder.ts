/**
 * A stdin for `restic backup --stdin` whose end only WE decide. restic writes its snapshot
 * when its stdin ends; with a plain pipe, a job worker killed with SIGKILL closes the pipe,
 * restic sees that as the end, and commits a half stream (never counted good by the app,
 * but in the repository all the same).
 *
 * So restic reads a FIFO whose write side is ALSO held by a tiny holder process (`sh`,
 * started in its own session so a terminal's Ctrl-C does not reach it). The worker writes
 * the bytes through its own write end. restic sees the end only when the worker has closed
 * its end AND told the holder `end`, so the holder closes its end too. If the worker dies
 * instead, the holder's control pipe reaches EOF without `end`: it SIGKILLs restic first,
 * and only then exits. The FIFO's name is removed as soon as the three ends are open: no
 * byte of a stream is ever on the laptop's disk.
 *
 * Needs `mkfifo` and `sh` (any Linux or macOS); elsewhere `openStdinHolder` answers null and
 * restic reads a plain pipe (the worker then still kills restic on every failure it lives
 * to see).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, rmSync } from 'node:fs';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

// Reads one word from the worker; anything but "end" (EOF included: the worker died) kills restic before letting go.
const holderScript = 'read -r word; [ "$word" = end ] && exit 0; kill -9 "$1" 2>/dev/null; exit 0';

export type StdinHolder = {
  /** restic's stdin (the FIFO's read end); give it to spawn, then call `started`. */
  readFd: number;
  /** Where the stream's bytes go; ending it is not the end restic sees. */
  writable: Socket;
  /** restic runs (its pid): the holder takes its end of the FIFO and guards restic. */
  started(resticPid: number): void;
  /** After the writable closed: restic may see the end of its input now. */
  release(): void;
  /** restic is done or killed: the holder goes without touching anything. */
  dispose(): void;
};

export function openStdinHolder(): StdinHolder | null {
  if (process.platform === 'win32') return null;
  const dir = mkdtempSync(path.join(tmpdir(), 'fieldkit-restic-'));
  const fifo = path.join(dir, 'stdin');
  let fds: { hold: number; read: number; write: number };
  try {
    execFileSync('mkfifo', ['-m', '600', fifo], { stdio: 'ignore' });
    // O_RDWR first: with a writer open, the read and write opens do not block.
    const hold = openSync(fifo, constants.O_RDWR);
    fds = { hold, read: openSync(fifo, constants.O_RDONLY), write: openSync(fifo, constants.O_WRONLY) };
  } catch {
    return null;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const writable = new Socket({ fd: fds.write, readable: false, writable: true });
  let holder: ChildProcess | null = null;
  let open = true;
  let said = false;
  const say = (word: string) => {
    if (said || holder?.stdin == null) return;
    said = true;
    holder.stdin.end(`${word}\n`);
  };
  return {
    readFd: fds.read,
    writable,
    started(resticPid) {
      open = false;
      closeSync(fds.read);
      holder = spawn('sh', ['-c', holderScript, 'fieldkit-restic-stdin-holder', String(resticPid)], { stdio: ['pipe', 'ignore', 'ignore', fds.hold], detached: true });
      holder.stdin?.on('error', () => undefined);
      holder.on('error', () => undefined);
      closeSync(fds.hold);
    },
    release() {
      say('end');
    },
    dispose() {
      writable.destroy();
      if (open) {
        // restic never started: nothing to guard.
        open = false;
        closeSync(fds.read);
        closeSync(fds.hold);
      }
      say('done');
    },
  };
}
