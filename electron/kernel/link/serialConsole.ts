/**
 * A shell on a serial console, driven like a technician would: wake it, log in if it
 * asks, then run each command between unique markers so its output and exit code can be
 * picked out of whatever else the line carries (banners, prompts, kernel messages).
 */
import { randomBytes } from 'node:crypto';
import { appError, FieldkitError } from '../../../shared/errors.ts';
import { cleanConsoleText } from './consoleText.ts';

/** The byte pipe under the console: a serial port, or anything like one. */
export type ConsolePort = {
  write(data: Buffer | string): void;
  onData(listener: (chunk: Buffer) => void): () => void;
  describe: string;
};

export type ConsoleCredentials = { username: string; password: string };

/** A terminal line is at most 4095 bytes in canonical mode; stay well below. */
export const maxCommandLineBytes = 3000;

export type SerialConsole = {
  run(command: string, timeoutMs?: number): Promise<{ code: number; stdout: string; stderr: string }>;
  /**
   * Hands the line to `command` in raw mode (binary-safe) until it exits; `onExit` gets
   * its exit code. Commands queued meanwhile wait.
   */
  takeOver(command: string): Promise<{ exit: Promise<number>; release(): void }>;
  readonly port: ConsolePort;
  close(): void;
};

export async function openSerialConsole(port: ConsolePort, credentials: ConsoleCredentials | null, timeoutMs = 30_000): Promise<SerialConsole> {
  let raw = '';
  const waiters = new Set<() => void>();
  const stop = port.onData((chunk) => {
    raw += chunk.toString('latin1');
    if (raw.length > 1_000_000) raw = raw.slice(-500_000);
    for (const waiter of [...waiters]) waiter();
  });

  /** Waits until `test` finds something in the text seen so far (cleaned), or the deadline. */
  function waitFor<T>(test: (text: string) => T | null, ms: number): Promise<T | null> {
    return new Promise((resolve) => {
      const check = () => {
        const found = test(cleanConsoleText(raw));
        if (found !== null) {
          finish(found);
        }
      };
      const finish = (value: T | null) => {
        clearTimeout(timer);
        waiters.delete(check);
        resolve(value);
      };
      const timer = setTimeout(() => {
        finish(null);
      }, ms);
      waiters.add(check);
      check();
    });
  }

  const deadline = Date.now() + timeoutMs;
  const tail = (text: string) => text.slice(text.lastIndexOf('\n') + 1);
  let loggedIn = false;
  let passwordSent = false;
  let silentRounds = 0;
  while (!loggedIn) {
    if (Date.now() > deadline) {
      stop();
      throw new FieldkitError(
        appError('TIMEOUT', `No login prompt or shell on ${port.describe}.`, 'Check the cable (TX/RX crossed, GND connected), the baud rate (115200 on a Pi), and that the serial console is enabled on the Pi.'),
      );
    }
    raw = '';
    port.write('\r');
    const state = await waitFor((text) => {
      if (/Login incorrect/i.test(text)) return 'incorrect';
      const last = tail(text);
      if (/login:\s*$/i.test(last)) return 'login';
      if (/password:\s*$/i.test(last)) return 'password';
      if (/[$#]\s*$/.test(last)) return 'shell';
      return null;
    }, 2500);
    if (state === 'incorrect' && passwordSent) {
      stop();
      throw new FieldkitError(appError('AUTH_FAILED', `${port.describe} refused the login.`, 'Check the user name and password for the serial console.'));
    }
    if (state === null && ++silentRounds % 2 === 0) {
      // A shell with an empty prompt (left by a program like us) prints nothing for Enter:
      // ask it to print something only a shell would.
      const probe = randomBytes(6).toString('hex');
      raw = '';
      port.write(`printf 'FKPROBE_%s\\n' ${probe}\r`);
      if (await waitFor((text) => (text.includes(`FKPROBE_${probe}\n`) ? true : null), 1500)) loggedIn = true;
      continue;
    }
    if (state === 'shell') loggedIn = true;
    else if (state === 'login') {
      if (!credentials) {
        stop();
        throw new FieldkitError(appError('AUTH_FAILED', `${port.describe} asks for a login.`, 'Enter the user name and password for the serial console.'));
      }
      raw = '';
      port.write(`${credentials.username}\r`);
      const asked = await waitFor((text) => (/password:\s*$/i.test(tail(text)) ? true : /[$#]\s*$/.test(tail(text)) ? false : null), 5000);
      if (asked === true) {
        raw = '';
        port.write(`${credentials.password}\r`);
        passwordSent = true;
        const outcome = await waitFor((text) => (/Login incorrect/i.test(text) ? 'incorrect' : /[$#]\s*$/.test(tail(text)) ? 'shell' : null), 10_000);
        if (outcome === 'incorrect') {
          stop();
          throw new FieldkitError(appError('AUTH_FAILED', `${port.describe} refused the login.`, 'Check the user name and password for the serial console.'));
        }
        if (outcome === 'shell') loggedIn = true;
      } else if (asked === false) loggedIn = true;
    }
    // 'password' with no user typed by us, or nothing recognisable: press Enter again.
  }

  // Quiet the shell: no echo, no prompt, no history; then prove it with a marker that
  // only the shell's printf (not an echo of our typing) can produce.
  const nonce = randomBytes(6).toString('hex');
  raw = '';
  port.write(`stty -echo; export PS1='' PS2='' PROMPT_COMMAND=''; unset HISTFILE; bind 'set enable-bracketed-paste off' 2>/dev/null; printf 'FKREADY_%s\\n' ${nonce}\r`);
  const ready = await waitFor((text) => (text.includes(`FKREADY_${nonce}\n`) ? true : null), 10_000);
  if (!ready) {
    stop();
    throw new FieldkitError(appError('UNAVAILABLE', `The shell on ${port.describe} did not answer.`, 'The console may be busy with another program; press Ctrl-C on it or reboot the Pi.'));
  }

  let queue: Promise<unknown> = Promise.resolve();
  function run(command: string, ms = 60_000): Promise<{ code: number; stdout: string; stderr: string }> {
    const id = randomBytes(6).toString('hex');
    const errFile = `/tmp/.fieldkit-err-${id}`;
    const line = `printf 'FKB_%s\\n' ${id}; ( ${command} ) 2>${errFile}; fk_rc=$?; printf 'FKE_%s\\n' ${id}; base64 -w0 ${errFile} 2>/dev/null; rm -f ${errFile}; printf '\\nFKX_%s_%d\\n' ${id} $fk_rc\r`;
    if (Buffer.byteLength(line) > maxCommandLineBytes + 300) {
      return Promise.reject(new FieldkitError(appError('BAD_REQUEST', 'The command is too long for a serial console line.', 'Send large inputs as a file upload instead.')));
    }
    const job = queue.then(async () => {
      raw = '';
      port.write(line);
      const end = new RegExp(`FKX_${id}_(\\d+)\\n`);
      const found = await waitFor((text) => {
        const m = end.exec(text);
        if (!m) return null;
        const begin = text.indexOf(`FKB_${id}\n`);
        const mid = text.indexOf(`FKE_${id}\n`);
        if (begin < 0 || mid < 0) return null;
        return {
          code: Number(m[1]),
          // The line is read byte for byte (latin1); the shell spoke UTF-8.
          stdout: Buffer.from(text.slice(begin + `FKB_${id}\n`.length, mid), 'latin1').toString('utf8'),
          stderr: Buffer.from(text.slice(mid + `FKE_${id}\n`.length, m.index).replace(/\s+/g, ''), 'base64').toString('utf8'),
        };
      }, ms);
      if (!found) {
        throw new FieldkitError(appError('TIMEOUT', `\`${command.slice(0, 80)}\` on ${port.describe} did not finish in ${ms} ms.`, 'The device may be busy or the line noisy; try again.'));
      }
      return found;
    });
    queue = job.catch(() => undefined);
    return job;
  }

  function takeOver(command: string): Promise<{ exit: Promise<number>; release(): void }> {
    const id = randomBytes(6).toString('hex');
    const hold: { release: () => void } = { release: () => undefined };
    const held = new Promise<void>((resolve) => {
      hold.release = resolve;
    });
    const started = queue.then(async () => {
      raw = '';
      // Raw mode: every byte reaches the command unchanged, nothing is echoed or turned
      // into a signal. The end marker comes after `stty sane` restores the line.
      port.write(`stty raw -echo; printf 'FKRAW_%s\\n' ${id}; ( ${command} ); fk_rc=$?; stty sane -echo; printf '\\nFKX_%s_%d\\n' ${id} $fk_rc\r`);
      // Bytes sent before the line is raw would be taken as ^C, ^D or line edits: wait.
      const isRaw = await waitFor((text) => (text.includes(`FKRAW_${id}\n`) ? true : null), 10_000);
      if (!isRaw) {
        hold.release();
        throw new FieldkitError(appError('TIMEOUT', `\`${command.slice(0, 60)}\` did not start on ${port.describe}.`, 'The console may be busy; try again.'));
      }
      const end = new RegExp(`FKX_${id}_(\\d+)\\n`);
      const exit = waitFor((text) => {
        const m = end.exec(text);
        return m ? Number(m[1]) : null;
      }, 2_147_483_647).then((code) => code ?? -1);
      return {
        exit,
        release: () => {
          hold.release();
        },
      };
    });
    queue = started.then(() => held).catch(() => undefined);
    return started;
  }

  return {
    run,
    takeOver,
    port,
    // The shell stays logged in, as a terminal program leaves it: the next visit (a pull
    // right after connecting) finds it, and a device that rebooted asks for the password
    // again, which the courier keeps for serial devices.
    close: stop,
  };
}
