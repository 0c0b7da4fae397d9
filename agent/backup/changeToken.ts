/**
 * A class's change token: a SHA-256 over what restic itself looks at to decide a file did
 * not change (path, size, mtime, ctime, inode), for every file the class's stream would
 * send, taken WITHOUT reading any file's contents. For a SQLite database that is the
 * database file and its `-wal` (a commit changes one or the other; the -wal without its
 * ctime, see walStatLine). The token also covers
 * what the manifest says besides the files (device id, site, agent, image and model
 * versions, the paths asked for and the ones missing), so a stream that would differ in any
 * of it gets another token.
 *
 * The laptop compares the token of a probe (`backup-probe`) with the token the last good
 * snapshot's stream carried (the manifest's `changeToken`, taken at stream START, so a write
 * during the stream makes the next probe differ). Equal tokens: nothing restic would see as
 * changed changed, so the laptop records "unchanged since snapshot X" instead of streaming.
 * The one miss is restic's own: a write that restores size, mtime AND ctime (ctime cannot be
 * set from user space; only a clock set back hides a change).
 */
import { createHash } from 'node:crypto';
import { statSync, type Stats } from 'node:fs';
import { resolve } from 'node:path';
import type { AgentConfig } from '../../shared/agentConfig.ts';
import type { BackupClass } from '../../shared/backupStream.ts';
import { planClass } from './backupClasses.ts';
import { activeModelVersion, imageVersion } from './deviceFacts.ts';
import { walkFiles } from './walkFiles.ts';

export type ChangeTokenContext = { config: AgentConfig; configPath: string; extraPaths: readonly string[]; agentVersion: string };

function statLine(path: string, stat: Stats): string {
  return `${path}\0${String(stat.size)}\0${String(stat.mtimeMs)}\0${String(stat.ctimeMs)}\0${String(stat.ino)}`;
}

/**
 * A database's -wal. Absent and empty are the same (no frames: the database file holds it
 * all) — a read-only open, as every backup-stream does, creates an empty one. Without its
 * ctime: SQLite running as root re-owns the -wal (fchown) each time it opens it, which moves
 * the ctime and nothing else; every write to a -wal moves its mtime.
 */
function walStatLine(path: string): string {
  const stat = statSync(path, { throwIfNoEntry: false });
  return stat === undefined || stat.size === 0 ? `${path}\0empty` : `${path}\0${String(stat.size)}\0${String(stat.mtimeMs)}\0${String(stat.ino)}`;
}

/** The token of `cls` as it is on the device now. Throws as the stream would (an unreadable folder). */
export function classChangeToken(cls: BackupClass, ctx: ChangeTokenContext): string {
  const { config } = ctx;
  const plan = planClass(cls, { config, configPath: resolve(ctx.configPath), extraPaths: ctx.extraPaths });
  const lines: string[] = [
    'fieldkit-change-token 1',
    cls,
    config.device_id,
    config.site,
    ctx.agentVersion,
    String(imageVersion(config.backup.etc_root)),
    cls === 'state' ? String(activeModelVersion(config)) : '',
    JSON.stringify(ctx.extraPaths),
  ];
  const missing = [...plan.missing];
  const seen = new Set<string>();
  for (const source of plan.sources) {
    const path = resolve(source.path);
    if (source.kind === 'sqlite') {
      if (seen.has(path)) continue;
      seen.add(path);
      lines.push(`sqlite\0${statLine(path, statSync(path))}\0${walStatLine(`${path}-wal`)}`);
    } else if (source.kind === 'bytes') {
      if (seen.has(path)) continue;
      seen.add(path);
      // Bytes made here (the redacted config): their hash (small, in memory) and the file's stat.
      lines.push(`bytes\0${statLine(path, statSync(source.like))}\0${createHash('sha256').update(source.bytes).digest('hex')}`);
    } else {
      for (const file of walkFiles(path, { missing: (p) => missing.push(p), note: () => undefined })) {
        if (seen.has(file.path)) continue;
        seen.add(file.path);
        lines.push(`file\0${statLine(file.path, file.stat)}`);
      }
    }
  }
  lines.push(`missing\0${missing.join('\0')}`);
  return createHash('sha256').update(lines.join('\n')).digest('hex');
}
