/**
 * The laptop's two repositories a backup writes into (main, and secrets with its own
 * password), created on first use: a random password into the app's secret store, then
 * `restic init` (password in the environment). The recovery key is left to be shown once
 * (settings.backup.set revealRecoveryKeys).
 *
 * NOTE for the merge: the repository layer (electron/backup/restic/, brepo) owns creating
 * repositories; when it lands, this file becomes a call to it with the same answer.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { appError, FieldkitError } from '../../shared/errors.ts';
import type { RepoKind } from '../../shared/backup.ts';
import type { KernelServices } from '../kernel/domain.ts';
import { passwordSecretName, type RepoTarget } from './jobParams.ts';
import type { RepositoryStore } from './repositoryStore.ts';
import { resticBinary } from './resticSink.ts';

export type PreparedRepo = { target: RepoTarget; password: string };

function resticInit(location: string, password: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(resticBinary(), ['init', '-r', location], { env: { ...process.env, RESTIC_PASSWORD: password }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString('utf8')));
    child.once('error', (error) => {
      reject(new FieldkitError(appError('UNAVAILABLE', `restic could not be started (${error.message}).`, 'Install restic (Debian/Ubuntu: sudo apt install restic; macOS: brew install restic) or set FIELDKIT_RESTIC to its path.')));
    });
    child.once('close', (code) => {
      if (code === 0) resolve();
      else reject(new FieldkitError(appError('IO_ERROR', `restic init of ${location} failed: ${stderr.trim()}`, 'Check the folder is writable and has free space.')));
    });
  });
}

async function prepare(kernel: KernelServices, repos: RepositoryStore, kind: RepoKind): Promise<PreparedRepo> {
  const location = path.join(kernel.dataDir, 'backups', kind);
  const target: RepoTarget = { role: 'laptop', kind, location };
  const name = passwordSecretName(target);
  let password = await kernel.secrets.get(name);
  if (password !== null && existsSync(path.join(location, 'config'))) return { target, password };
  if (existsSync(path.join(location, 'config'))) {
    throw new FieldkitError(appError('AUTH_FAILED', `The ${kind} backup repository at ${location} exists but its password is not in this laptop's secret store.`, 'Enter its recovery key (Backups → Repositories) or move the folder aside to start a new repository.'));
  }
  password ??= randomBytes(24).toString('base64url');
  await kernel.secrets.set(name, password);
  mkdirSync(path.dirname(location), { recursive: true, mode: 0o700 });
  await resticInit(location, password);
  repos.recordCreated('laptop', kind, location, Date.now(), false);
  return { target, password };
}

export async function prepareLaptopRepos(kernel: KernelServices, repos: RepositoryStore): Promise<{ main: PreparedRepo; secrets: PreparedRepo }> {
  return { main: await prepare(kernel, repos, 'main'), secrets: await prepare(kernel, repos, 'secrets') };
}
