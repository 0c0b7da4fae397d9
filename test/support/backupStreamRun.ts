/**
 * Runs `fieldkit-agent backup-stream` from source, the stream going to a file, and reads a
 * stream back with GNU tar (the independent oracle) and sha256sum.
 */
import { execFileSync, spawn } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BACKUP_MANIFEST_NAME, BackupManifestSchema, type BackupManifest } from '../../shared/backupStream.ts';
import { agentEntry } from './agentDaemonProcess.ts';

export type BackupRun = { code: number | null; stderr: string; tarPath: string };

export function runBackupStream(configPath: string, args: readonly string[], tarPath: string): Promise<BackupRun> {
  const child = spawn(process.execPath, [agentEntry, 'backup-stream', '--config', configPath, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const out = createWriteStream(tarPath);
  child.stdout.pipe(out);
  const written = new Promise<void>((resolve, reject) => {
    out.on('finish', resolve);
    out.on('error', reject);
  });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      void written.then(() => {
        resolve({ code, stderr, tarPath });
      });
    });
  });
}

/** `tar -tv` lines and member names in stream order. */
export function tarList(tarPath: string): { names: string[]; verbose: string[] } {
  const names = execFileSync('tar', ['-tf', tarPath], { encoding: 'utf8' }).trimEnd().split('\n');
  const verbose = execFileSync('tar', ['-tvf', tarPath], { encoding: 'utf8' }).trimEnd().split('\n');
  return { names, verbose };
}

/** Extracts with GNU tar (as root: modes kept) and parses the manifest. */
export function extractStream(tarPath: string, into: string): BackupManifest {
  mkdirSync(into, { recursive: true });
  execFileSync('tar', ['-xpf', tarPath, '-C', into]);
  return BackupManifestSchema.parse(JSON.parse(readFileSync(join(into, BACKUP_MANIFEST_NAME), 'utf8')));
}

/** sha256sum of each extracted file of the manifest, by device path. */
export function extractedHashes(manifest: BackupManifest, into: string): Map<string, string> {
  const hashes = new Map<string, string>();
  if (manifest.files.length === 0) return hashes;
  const out = execFileSync('sha256sum', manifest.files.map((f) => join(into, f.path.slice(1))), { encoding: 'utf8' });
  for (const line of out.trimEnd().split('\n')) {
    const [hash = '', file = ''] = line.split(/ [ *]/);
    hashes.set(`/${file.slice(into.length + 1)}`, hash);
  }
  return hashes;
}
