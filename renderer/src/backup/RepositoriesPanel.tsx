import { useState, type ReactNode } from 'react';
import { Button, Form } from 'react-aria-components';
import { repoRoleLabels, type BackupSettingsPatch, type BackupSettingsView, type RecoveryKey, type RepoRole, type RepositoryView } from '../../../shared/backup.ts';
import type { AppError } from '../../../shared/errors.ts';
import { useBridge } from '../api/hooks.ts';
import { formatAgo } from '../../../shared/format.ts';
import { ErrorNotice } from '../ui/ErrorNotice.tsx';
import { FormField } from '../ui/FormField.tsx';
import { useNow } from '../ui/useNow.ts';

const roles: readonly RepoRole[] = ['laptop', 'site', 'offsite'];

type RepositoriesPanelProps = {
  settings: BackupSettingsView;
  /** A copy job of this kind is running. */
  copying: ReadonlySet<'site' | 'offsite'>;
  onSaved: (keys: readonly RecoveryKey[]) => void;
  onCopy: (to: 'site' | 'offsite') => void;
};

/**
 * Where backups are kept: this laptop (always), a site drive and off-site, each a main and a
 * secrets repository. Set the site drive and the off-site URL here; Copy fills them.
 */
export function RepositoriesPanel({ settings, copying, onSaved, onCopy }: RepositoriesPanelProps) {
  const now = useNow(30_000);
  const bridge = useBridge();
  const [pending, setPending] = useState<string | null>(null);
  const [error, setError] = useState<AppError | null>(null);
  const unshown = settings.repositories.filter((r) => r.initialized && !r.recoveryKeyShown);

  function save(patch: BackupSettingsPatch, what: string): void {
    setPending(what);
    setError(null);
    void bridge.invoke('settings.backup.set', patch).then((result) => {
      setPending(null);
      if (result.ok) onSaved(result.value.recoveryKeys);
      else setError(result.error);
    });
  }

  return (
    <section className="backup-section repositories" aria-labelledby="repositories-heading" data-testid="backup-repositories">
      <header className="backup-section-header">
        <h2 id="repositories-heading">Repositories</h2>
        <span className="backup-section-summary">Passwords: {settings.passwordStore}. The secrets class has repositories of its own, with their own key.</span>
      </header>
      {settings.warnings.map((w) => (
        <p key={w} className="inline-warning" role="note">
          {w}
        </p>
      ))}
      {unshown.length > 0 && (
        <div className="notice is-warn backup-unshown">
          <p>
            {unshown.length === 1 ? 'A repository was' : `${String(unshown.length)} repositories were`} created by a backup and {unshown.length === 1 ? 'its recovery key has' : 'their recovery keys have'} not been shown yet. Without it the backups cannot be read if this laptop is lost.
          </p>
          <Button className="button is-small is-primary" isPending={pending === 'reveal'} onPress={() => { save({ revealRecoveryKeys: true }, 'reveal'); }}>
            Show recovery key{unshown.length === 1 ? '' : 's'}
          </Button>
        </div>
      )}
      <ul className="boxed-list repository-list">
        {roles.map((role) => (
          <RoleLine
            key={role}
            role={role}
            repos={settings.repositories.filter((r) => r.role === role)}
            now={now}
            action={
              role === 'laptop' ? (
                settings.repositories.some((r) => r.role === 'laptop' && !r.initialized) ? (
                  <Button className="button is-small" isPending={pending === 'create'} onPress={() => { save({ createLaptop: true }, 'create'); }}>
                    Create now
                  </Button>
                ) : null
              ) : (
                <Button className="button is-small" isDisabled={settings.repositories.every((r) => r.role !== role) || copying.has(role)} onPress={() => { onCopy(role); }} aria-label={`Copy to the ${repoRoleLabels[role]}`}>
                  {copying.has(role) ? 'Copying…' : 'Copy now'}
                </Button>
              )
            }
          />
        ))}
      </ul>
      <PlacesForm settings={settings} pending={pending === 'places'} onSave={(patch) => { save(patch, 'places'); }} />
      {error !== null && <ErrorNotice error={error} announce />}
    </section>
  );
}

function RoleLine({ role, repos, now, action }: { role: RepoRole; repos: readonly RepositoryView[]; now: number; action: ReactNode }) {
  const main = repos.find((r) => r.kind === 'main') ?? repos[0];
  return (
    <li className="repository" data-testid="repository" data-role={role} data-initialized={String(repos.some((r) => r.initialized))}>
      <span className="repository-role">{repoRoleLabels[role]}</span>
      {main === undefined ? (
        <span className="muted repository-where">{role === 'site' ? 'No site drive set.' : 'No off-site repository set.'}</span>
      ) : (
        <>
          <span className="mono repository-where" title={repos.map((r) => `${r.kind}: ${r.location}`).join('\n')}>
            {main.location}
          </span>
          <span className="repository-facts">{repoFacts(repos, role, now)}</span>
        </>
      )}
      <span className="repository-action">{action}</span>
    </li>
  );
}

/** "created · verified 2 h ago · copied 1 d ago", or what is missing, in words. */
function repoFacts(repos: readonly RepositoryView[], role: RepoRole, now: number): string {
  if (repos.every((r) => !r.initialized)) return role === 'laptop' ? 'not created yet (the first backup creates it)' : 'not created yet: save the place again to create it';
  const verified = repos.map((r) => r.lastVerifiedAt).filter((t) => t !== null);
  const failed = repos.some((r) => r.lastVerifyOk === false);
  const parts = [failed ? 'verification FAILED' : verified.length === 0 ? 'never verified' : `verified ${formatAgo(Math.min(...verified), now)}`];
  if (role !== 'laptop') {
    const copied = repos.map((r) => r.lastCopyAt).filter((t) => t !== null);
    parts.push(copied.length === 0 ? 'nothing copied yet' : `copied ${formatAgo(Math.min(...copied), now)}`);
  }
  return parts.join(' · ');
}

function PlacesForm({ settings, pending, onSave }: { settings: BackupSettingsView; pending: boolean; onSave: (patch: BackupSettingsPatch) => void }) {
  const [site, setSite] = useState(settings.siteDrivePath ?? '');
  const [offsite, setOffsite] = useState(settings.offsiteUrl ?? '');
  const changed = site.trim() !== (settings.siteDrivePath ?? '') || offsite.trim() !== (settings.offsiteUrl ?? '');
  return (
    <Form
      className="places-form"
      onSubmit={(event) => {
        event.preventDefault();
        onSave({ siteDrivePath: site.trim() === '' ? null : site.trim(), offsiteUrl: offsite.trim() === '' ? null : offsite.trim() });
      }}
    >
      <FormField label="Site drive folder" value={site} onChange={setSite} mono placeholder="/media/usb-ssd/fieldkit-backups" description="A folder on a USB SSD: a second medium. Empty removes it (the drive is not touched)." className="is-grow" />
      <FormField label="Off-site repository" value={offsite} onChange={setOffsite} mono placeholder="sftp:backup@host:/srv/fieldkit" description="Any restic URL (sftp:, rest:, s3:). Filled by Copy when this laptop is online." className="is-grow" />
      <Button className="button" type="submit" isPending={pending} isDisabled={!changed}>
        Save
      </Button>
    </Form>
  );
}
