/**
 * The laptop's two repositories a backup writes into (main, and secrets with its own
 * password), created on first use through the repository layer: a new password into the
 * app's secret store, then `restic init`. The recovery key waits to be shown once
 * (settings.backup.set revealRecoveryKeys), as for a repository created in the settings.
 */
import type { RepoKind } from '../../shared/backup.ts';
import type { KernelServices } from '../kernel/domain.ts';
import type { RepoTarget } from './jobParams.ts';
import { locationOf, newRepoPassword, passwordSecret, repoPassword, resticRepoFor } from './repositories.ts';
import type { RepositoryStore } from './repositoryStore.ts';
import { initRepo } from './restic/resticRepo.ts';

export type PreparedRepo = { target: RepoTarget; password: string };

async function prepare(kernel: KernelServices, repos: RepositoryStore, kind: RepoKind): Promise<PreparedRepo> {
  const location = locationOf('laptop', kind, repos.loadSettings(), kernel.dataDir) ?? '';
  const target: RepoTarget = { role: 'laptop', kind, location };
  const known = await repoPassword(kernel.secrets, target);
  if (known !== null && repos.find('laptop', kind, location) !== null) return { target, password: known };
  const password = known ?? newRepoPassword();
  if (known === null) await kernel.secrets.set(passwordSecret(target), password);
  // An existing repository opens with our password or fails saying so (initRepo).
  const outcome = await initRepo(resticRepoFor(target, password, kernel.dataDir));
  repos.recordCreated('laptop', kind, location, Date.now(), outcome === 'existed');
  return { target, password };
}

export async function prepareLaptopRepos(kernel: KernelServices, repos: RepositoryStore): Promise<{ main: PreparedRepo; secrets: PreparedRepo }> {
  return { main: await prepare(kernel, repos, 'main'), secrets: await prepare(kernel, repos, 'secrets') };
}
