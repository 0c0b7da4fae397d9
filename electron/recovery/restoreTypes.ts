/** What the restore primitive (restoreOnto.ts) takes and answers. */
import type { BackupClass } from '../../shared/backupStream.ts';
import type { ResticRepo } from '../backup/index.ts';
import type { Link } from '../kernel/link/linkApi.ts';
import type { StepRecorder } from './stepRecorder.ts';

/** Repository R and snapshot S: per class, the restic snapshot and the repository holding it. */
export type RestoreSource = {
  pointId: string;
  /** The device the snapshots are of (the restic host), for messages. */
  deviceId: string;
  snapshots: readonly { class: BackupClass; resticId: string; repo: ResticRepo }[];
};

/** Target T: a device reachable over its link (SSH), and how to run its agent and services. */
export type RestoreTarget = {
  name: string;
  link: Link;
  /** The shell command running `fieldkit-agent <args>` as root on T (backup's agentRootCommand). */
  agentCommand: (args: string) => string;
  /** systemd units, in stop order (the agent first); started in the reverse order. Empty: none to manage. */
  services: readonly string[];
  /** The device id every restored class must carry (null: not checked). */
  expectedDeviceId: string | null;
  /** Paths on T kept as they are (checked, not written): a drill's spare keeps its SSH host keys and hostname. */
  keepPaths?: readonly string[];
  /** Agent config keys kept as T has them (`ingest.port`). */
  keepConfig?: readonly string[];
};

export type RestoreOntoOptions = {
  classes: readonly BackupClass[];
  signal: AbortSignal;
  steps: StepRecorder;
  /** Bytes streamed onto the device so far. */
  onBytes?: (bytes: number) => void;
  /** Runs after the snapshot passed its check and before anything on the target changes (restore: the backup that undoes it). */
  beforeChanges?: () => Promise<void>;
  /** Runs once the services are stopped, before any class is written (restore: the journal's head as the agent left it). */
  afterStop?: () => Promise<void>;
  /** Runs after the classes are restored and checked, before the services start (restore: the rewound journal handed over to a new one). */
  beforeStart?: () => Promise<void>;
};

export type RestoredClass = { class: BackupClass; files: number; bytes: number; written: number; kept: number; databases: string[]; journalLastSeq: number | null };

export type RestoreOntoOutcome = { restored: RestoredClass[] };

