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

/**
 * What the console printed since we last typed: kept raw (latin1, byte for byte) and
 * searched cleaned of escapes and kernel messages.
 */
type ConsoleLine = {
  /** Forgets what was printed so far, then types `text`: a wait after it sees only the answer. */
  send(text: string): void;
  /** Waits until `test` finds something in the text printed since the last send (cleaned), or `ms` pass (null). */
  waitFor<T>(test: (text: string) => T | null, ms: number): Promise<T | null>;
  /** Stops listening to the port. */
  stop: () => void;
};

function listenToConsole(port: ConsolePort): ConsoleLine {
  let raw = '';
  const waiters = new Set<() => void>();
  const stop = port.onData((chunk) => {
    raw += chunk.toString('latin1');
    if (raw.length > 1_000_000) raw = raw.slice(-500_000);
    for (const waiter of [...waiters]) waiter();
  });

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

  return {
    send(text) {
      raw = '';
      port.write(text);
    },
    waitFor,
    stop,
  };
}

/** The last line printed, where a prompt waits. */
function promptLine(text: string): string {
  return text.slice(text.lastIndexOf('\n') + 1);
}

const shellPrompt = /[$#]\s*$/;

/** What the console shows after Enter: a refused login, a prompt, or nothing we recognise (null). */
function readPrompt(text: string): 'incorrect' | 'login' | 'password' | 'shell' | null {
  if (/Login incorrect/i.test(text)) return 'incorrect';
  const last = promptLine(text);
  if (/login:\s*$/i.test(last)) return 'login';
  if (/password:\s*$/i.test(last)) return 'password';
  if (shellPrompt.test(last)) return 'shell';
  return null;
}

function loginRefused(port: ConsolePort): FieldkitError {
  return new FieldkitError(appError('AUTH_FAILED', `${port.describe} refused the login.`, 'Check the user name and password for the serial console.'));
}

/**
 * A shell with an empty prompt (left by a program like us) prints nothing for Enter: ask
 * it to print something only a shell would.
 */
async function answersAsShell(line: ConsoleLine): Promise<boolean> {
  const probe = randomBytes(6).toString('hex');
  line.send(`printf 'FKPROBE_%s\\n' ${probe}\r`);
  return (await line.waitFor((text) => (text.includes(`FKPROBE_${probe}\n`) ? true : null), 1500)) === true;
}

/**
 * Answers a login prompt: the user name, then the password if asked for one. Says whether
 * a shell answered, or only that the password went out (the caller then presses Enter again).
 */
async function typeCredentials(line: ConsoleLine, port: ConsolePort, credentials: ConsoleCredentials | null): Promise<'shell' | 'password_sent' | 'unanswered'> {
  if (!credentials) {
    throw new FieldkitError(appError('AUTH_FAILED', `${port.describe} asks for a login.`, 'Enter the user name and password for the serial console.'));
  }
  line.send(`${credentials.username}\r`);
  const asked = await line.waitFor((text) => (/password:\s*$/i.test(promptLine(text)) ? true : shellPrompt.test(promptLine(text)) ? false : null), 5000);
  if (asked === false) return 'shell';
  if (asked === null) return 'unanswered';
  line.send(`${credentials.password}\r`);
  const outcome = await line.waitFor((text) => (/Login incorrect/i.test(text) ? 'incorrect' : shellPrompt.test(promptLine(text)) ? 'shell' : null), 10_000);
  if (outcome === 'incorrect') throw loginRefused(port);
  return outcome === 'shell' ? 'shell' : 'password_sent';
}

/** Wakes the console with Enter until a shell answers, logging in if it asks. */
async function logIn(line: ConsoleLine, port: ConsolePort, credentials: ConsoleCredentials | null, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let passwordSent = false;
  let silentRounds = 0;
  for (;;) {
    if (Date.now() > deadline) {
      throw new FieldkitError(
        appError('TIMEOUT', `No login prompt or shell on ${port.describe}.`, 'Check the cable (TX/RX crossed, GND connected), the baud rate (115200 on a Pi), and that the serial console is enabled on the Pi.'),
      );
    }
    line.send('\r');
    const state = await line.waitFor(readPrompt, 2500);
    if (state === 'incorrect' && passwordSent) throw loginRefused(port);
    if (state === null && ++silentRounds % 2 === 0) {
      if (await answersAsShell(line)) return;
      continue;
    }
    if (state === 'shell') return;
    if (state === 'login') {
      const answer = await typeCredentials(line, port, credentials);
      if (answer === 'shell') return;
      if (answer === 'password_sent') passwordSent = true;
    }
    // 'password' with no user typed by us, or nothing recognisable: press Enter again.
  }
}

/**
 * Quiets the shell: no echo, no prompt, no history; then proves it with a marker that
 * only the shell's printf (not an echo of our typing) can produce.
 */
async function quietShell(line: ConsoleLine, port: ConsolePort): Promise<void> {
  const nonce = randomBytes(6).toString('hex');
  line.send(`stty -echo; export PS1='' PS2='' PROMPT_COMMAND=''; unset HISTFILE; bind 'set enable-bracketed-paste off' 2>/dev/null; printf 'FKREADY_%s\\n' ${nonce}\r`);
  const ready = await line.waitFor((text) => (text.includes(`FKREADY_${nonce}\n`) ? true : null), 10_000);
  if (!ready) {
    throw new FieldkitError(appError('UNAVAILABLE', `The shell on ${port.describe} did not answer.`, 'The console may be busy with another program; press Ctrl-C on it or reboot the Pi.'));
  }
}

/** Picks a command's exit code, stdout and stderr out of the text between its markers; null until all are there. */
function readMarkedOutput(text: string, id: string): { code: number; stdout: string; stderr: string } | null {
  const m = new RegExp(`FKX_${id}_(\\d+)\\n`).exec(text);
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
}

export async function openSerialConsole(port: ConsolePort, credentials: ConsoleCredentials | null, timeoutMs = 30_000): Promise<SerialConsole> {
  const line = listenToConsole(port);
  try {
    await logIn(line, port, credentials, timeoutMs);
    await quietShell(line, port);
  } catch (error) {
    line.stop();
    throw error;
  }

  // One command at a time: each waits for the one before it (and a take-over until released).
  let queue: Promise<unknown> = Promise.resolve();
  function run(command: string, ms = 60_000): Promise<{ code: number; stdout: string; stderr: string }> {
    const id = randomBytes(6).toString('hex');
    const errFile = `/tmp/.fieldkit-err-${id}`;
    const text = `printf 'FKB_%s\\n' ${id}; ( ${command} ) 2>${errFile}; fk_rc=$?; printf 'FKE_%s\\n' ${id}; base64 -w0 ${errFile} 2>/dev/null; rm -f ${errFile}; printf '\\nFKX_%s_%d\\n' ${id} $fk_rc\r`;
    if (Buffer.byteLength(text) > maxCommandLineBytes + 300) {
      return Promise.reject(new FieldkitError(appError('BAD_REQUEST', 'The command is too long for a serial console line.', 'Send large inputs as a file upload instead.')));
    }
    const job = queue.then(async () => {
      line.send(text);
      const found = await line.waitFor((seen) => readMarkedOutput(seen, id), ms);
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
      // Raw mode: every byte reaches the command unchanged, nothing is echoed or turned
      // into a signal. The end marker comes after `stty sane` restores the line.
      line.send(`stty raw -echo; printf 'FKRAW_%s\\n' ${id}; ( ${command} ); fk_rc=$?; stty sane -echo; printf '\\nFKX_%s_%d\\n' ${id} $fk_rc\r`);
      // Bytes sent before the line is raw would be taken as ^C, ^D or line edits: wait.
      const isRaw = await line.waitFor((text) => (text.includes(`FKRAW_${id}\n`) ? true : null), 10_000);
      if (!isRaw) {
        hold.release();
        throw new FieldkitError(appError('TIMEOUT', `\`${command.slice(0, 60)}\` did not start on ${port.describe}.`, 'The console may be busy; try again.'));
      }
      const end = new RegExp(`FKX_${id}_(\\d+)\\n`);
      const exit = line
        .waitFor((text) => {
          const m = end.exec(text);
          return m ? Number(m[1]) : null;
        }, 2_147_483_647)
        .then((code) => code ?? -1);
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
    close: line.stop,
  };
}
