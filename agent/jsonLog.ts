/**
 * The agent's log: one JSON object per line on stderr, so journald keeps it and a
 * technician can filter it with jq. stdout stays free for command output and RPC frames.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Record<string, unknown>;
export type Logger = (level: LogLevel, message: string, fields?: LogFields) => void;

/** A logger writing JSON lines to `write` (stderr by default). */
export function createJsonLogger(write: (line: string) => void = (line) => process.stderr.write(line)): Logger {
  return (level, message, fields = {}) => {
    write(`${JSON.stringify({ at: new Date().toISOString(), level, msg: message, ...fields })}\n`);
  };
}

/** A logger that drops everything (library use, tests that do not look at logs). */
export function silentLogger(): Logger {
  return () => undefined;
}
