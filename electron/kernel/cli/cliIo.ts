/** Where the CLI writes, so tests can run it in-process and read what it said. */
export type CliIo = {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** True when stderr is a terminal: progress bars then, plain lines otherwise. */
  interactive: boolean;
};

export const processIo: CliIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  interactive: process.stderr.isTTY,
};

/** Exit codes: 0 done, 1 the operation failed, 2 the command line was wrong, 130 cancelled. */
export const exitCodes = { ok: 0, failed: 1, usage: 2, cancelled: 130 } as const;
