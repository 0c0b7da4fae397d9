import { useState } from 'react';
import { Button } from 'react-aria-components';
import type { RetentionGroup, Retention } from '../../../shared/backup.ts';
import { useApi, useBridge } from '../api/hooks.ts';
import { ConfirmDialog } from '../ui/ConfirmDialog.tsx';
import { ErrorNotice } from '../ui/ErrorNotice.tsx';
import { ModalDialog } from '../ui/ModalDialog.tsx';
import { classLabels, plural, shortId } from './backupText.ts';

const when = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

/**
 * Retention, shown before it is applied: restic's own dry run (`forget --dry-run`) per device
 * and class, what it keeps and why, what it would remove. Apply asks once more, then runs as a job.
 */
export function RetentionDialog({ names, onClose, onStarted }: { names: ReadonlyMap<string, string>; onClose: () => void; onStarted: () => void }) {
  const bridge = useBridge();
  const preview = useApi('backup.forget', { dryRun: true, repo: 'laptop' });
  const [confirming, setConfirming] = useState(false);
  const groups = preview.value?.dryRun === true ? sortGroups(preview.value.preview.groups, names) : null;
  const removing = groups?.reduce((n, g) => n + g.remove.length, 0) ?? 0;

  if (confirming) {
    return (
      <ConfirmDialog
        title={`Remove ${plural(removing, 'snapshot')} for good?`}
        confirmLabel={`Remove ${plural(removing, 'snapshot')}`}
        pendingLabel="Starting…"
        testId="retention-confirm"
        onClose={() => {
          setConfirming(false);
        }}
        onConfirm={() => bridge.invoke('backup.forget', { dryRun: false, repo: 'laptop' })}
        onDone={onStarted}
      >
        <p>
          restic forgets them and prunes the data only they used from this laptop&apos;s repositories. Copies already on the site drive or off-site are not touched. This cannot be undone.
        </p>
      </ConfirmDialog>
    );
  }

  return (
    <ModalDialog title="Retention preview" onClose={onClose} wide testId="retention-preview">
      <div className="dialog-body">
        {preview.error !== null && (
          <>
            <ErrorNotice error={preview.error} announce />
            <Button className="button is-small retention-retry" onPress={preview.reload} isPending={preview.loading}>
              Ask again
            </Button>
          </>
        )}
        {groups === null && preview.error === null && <p className="muted">Asking restic what the rules keep (a dry run, nothing is removed)…</p>}
        {groups !== null && groups.length === 0 && <p>No snapshots on this laptop yet: nothing to keep or remove.</p>}
        {groups !== null && groups.length > 0 && (
          <>
            <p className="dialog-lead" data-testid="retention-total">
              {removing === 0 ? 'The rules keep every snapshot: nothing to remove.' : `The rules would remove ${plural(removing, 'snapshot')} and keep ${plural(groups.reduce((n, g) => n + g.keep.length, 0), 'snapshot')}.`}
            </p>
            <ul className="retention-groups">
              {groups.map((g) => (
                <RetentionGroupItem key={`${g.deviceId}:${g.class}`} group={g} name={names.get(g.deviceId) ?? g.deviceId} />
              ))}
            </ul>
          </>
        )}
      </div>
      <div className="dialog-actions">
        <Button className="button" onPress={onClose} autoFocus>
          Close
        </Button>
        <Button
          className="button is-danger"
          isDisabled={removing === 0}
          onPress={() => {
            setConfirming(true);
          }}
        >
          Apply…
        </Button>
      </div>
    </ModalDialog>
  );
}

function RetentionGroupItem({ group, name }: { group: RetentionGroup; name: string }) {
  return (
    <li className="retention-group" data-testid="retention-group" data-device-id={group.deviceId} data-class={group.class}>
      <p className="retention-head">
        <strong>{name}</strong> · {classLabels[group.class]} <span className="muted">({rulesWords(group.retention)})</span>
        <span className="retention-counts num">
          keep {group.keep.length} · <span className={group.remove.length > 0 ? 'retention-remove-count' : undefined}>remove {group.remove.length}</span>
        </span>
      </p>
      <ul className="retention-snapshots">
        {group.keep.map((s) => (
          <li key={s.resticId} className="is-keep" data-testid="retention-keep">
            <span aria-hidden="true">✓ </span>keep <span className="mono">{shortId(s.resticId)}</span> {when.format(s.time)} <span className="muted">— {s.reasons.join(', ')}</span>
          </li>
        ))}
        {group.remove.map((s) => (
          <li key={s.resticId} className="is-remove" data-testid="retention-remove">
            <span aria-hidden="true">✕ </span>remove <span className="mono">{shortId(s.resticId)}</span> {when.format(s.time)}
          </li>
        ))}
      </ul>
    </li>
  );
}

/** "last 3, daily 7, weekly 8, monthly 24": the rules that keep anything. */
function rulesWords(r: Retention): string {
  const rules = [
    ['last', r.keepLast],
    ['hourly', r.keepHourly],
    ['daily', r.keepDaily],
    ['weekly', r.keepWeekly],
    ['monthly', r.keepMonthly],
  ] as const;
  return rules.filter(([, n]) => n > 0).map(([what, n]) => `${what} ${String(n)}`).join(', ') || 'keeps nothing';
}

const classOrder = ['config', 'state', 'data', 'secrets'];

/** Groups with something to remove first, then by device name and class, so the list reads like the table. */
function sortGroups(groups: readonly RetentionGroup[], names: ReadonlyMap<string, string>): RetentionGroup[] {
  const name = (g: RetentionGroup) => names.get(g.deviceId) ?? g.deviceId;
  return [...groups].sort(
    (a, b) => Number(b.remove.length > 0) - Number(a.remove.length > 0) || name(a).localeCompare(name(b)) || classOrder.indexOf(a.class) - classOrder.indexOf(b.class),
  );
}
