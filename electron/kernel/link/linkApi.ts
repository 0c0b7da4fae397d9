/**
 * A link to a Pi: SSH, a serial console, or a local child process (the demo site and
 * tests). Everything above (deploy, courier pull, health watch) speaks through this one
 * interface and never knows which link it has.
 */
export type ExecResult = {
  /** Exit code; null when the command was ended by a signal or the link dropped. */
  code: number | null;
  signal: string | null;
  stdout: Buffer;
  stderr: Buffer;
};

export type ExecOptions = {
  stdin?: Buffer | string;
  timeoutMs?: number;
  signal?: AbortSignal;
};

/** A running remote command with its stdio as streams (the agent RPC rides on one). */
export type LinkStream = {
  readable: NodeJS.ReadableStream;
  writable: NodeJS.WritableStream;
  /** What the command wrote to stderr so far (bounded), for error messages. */
  stderrTail(): string;
  /** Resolves when the command has exited. */
  exit: Promise<{ code: number | null; signal: string | null }>;
  close(): void;
};

export type UploadOptions = {
  mode?: number;
  onProgress?: (bytesDone: number, bytesTotal: number) => void;
  signal?: AbortSignal;
};

export type Link = {
  readonly kind: 'ssh' | 'serial' | 'local';
  /** Where it goes, for people: `pi@10.0.0.7:22`, `/dev/ttyUSB0`, `local`. */
  readonly describe: string;
  exec(command: string, options?: ExecOptions): Promise<ExecResult>;
  /**
   * Copies a local file to `remotePath`, verified by SHA-256 on the far side before it
   * takes the final name (a partial or corrupted upload never appears under it).
   */
  upload(localPath: string, remotePath: string, options?: UploadOptions): Promise<{ sha256: string; bytes: number }>;
  openStream(command: string): Promise<LinkStream>;
  close(): Promise<void>;
};
