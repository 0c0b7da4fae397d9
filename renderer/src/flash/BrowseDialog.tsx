import { useState } from 'react';
import { Button, Header, ListBox, ListBoxItem, ListBoxSection } from 'react-aria-components';
import { formatBytes } from '../../../shared/format.ts';
import { useApi } from '../api/hooks.ts';
import { ModalDialog } from '../ui/ModalDialog.tsx';
import { ErrorNotice } from '../ui/ErrorNotice.tsx';

const kindLabels = { dir: 'folder', signed: 'signed image', plain: 'unsigned image' } as const;

/**
 * The image picker: folders and image files of this computer as the service lists them
 * (the window may be a browser that cannot read the disk), and the images picked before.
 * Enter or a click opens a folder or picks an image. Opens in `startDir` (the folder typed in
 * the path field), else where the service suggests (Downloads).
 */
export function BrowseDialog({ startDir, onPick, onClose }: { startDir: string | undefined; onPick: (path: string) => void; onClose: () => void }) {
  const [dir, setDir] = useState<string | undefined>(startDir);
  const listing = useApi('flash.browse', dir === undefined ? {} : { dir });
  const shown = listing.value;
  const byPath = new Map(shown?.entries.map((entry) => [entry.path, entry]) ?? []);
  const up = () => {
    if (shown?.parent != null) setDir(shown.parent);
  };
  return (
    <ModalDialog title="Choose an image" onClose={onClose} wide testId="browse-dialog">
      <div className="browse-bar">
        <Button className="button is-small" onPress={up} isDisabled={shown?.parent == null} aria-label="Up to the parent folder">
          ↑ Up
        </Button>
        <Button className="button is-small is-quiet" onPress={() => { setDir(undefined); }}>
          Downloads
        </Button>
        <span className="browse-dir mono" data-testid="browse-dir">
          {shown?.dir ?? (listing.loading ? 'Opening…' : '')}
        </span>
      </div>
      {listing.error !== null && <ErrorNotice error={listing.error} announce />}
      <ListBox
        aria-label="Folders and images"
        className="browse-list"
        autoFocus
        onAction={(key) => {
          const entry = byPath.get(String(key));
          if (entry === undefined) return;
          if (entry.kind === 'dir') setDir(entry.path);
          else onPick(entry.path);
        }}
        renderEmptyState={() => <p className="browse-empty">{listing.loading ? 'Opening…' : 'No folders or images here (.fkimg, .img, .img.xz, .img.gz, .img.zst).'}</p>}
      >
        {(shown?.entries ?? []).map((entry) => (
          <ListBoxItem key={entry.path} id={entry.path} textValue={entry.name} className="browse-item" data-kind={entry.kind} data-testid="browse-entry">
            <span className={`browse-icon is-${entry.kind}`} aria-hidden="true">
              {entry.kind === 'dir' ? '▸' : entry.kind === 'signed' ? '✓' : '⚠'}
            </span>
            <span className="browse-name">{entry.kind === 'dir' ? `${entry.name}/` : entry.name}</span>
            <span className="browse-kind">{kindLabels[entry.kind]}</span>
            <span className="browse-size num">{entry.bytes === null ? '' : formatBytes(entry.bytes)}</span>
            <span className="browse-date num">{new Date(entry.modifiedMs).toISOString().slice(0, 10)}</span>
          </ListBoxItem>
        ))}
      </ListBox>
      {shown !== null && shown.recent.length > 0 && (
        <ListBox aria-label="Recent images" className="browse-list is-recent" onAction={(key) => { onPick(String(key)); }}>
          <ListBoxSection>
            <Header className="browse-section">Recent images</Header>
            {shown.recent.map((path) => (
              <ListBoxItem key={path} id={path} textValue={path} className="browse-item" data-testid="browse-recent">
                <span className="browse-icon" aria-hidden="true">
                  ↺
                </span>
                <span className="browse-name mono">{path}</span>
              </ListBoxItem>
            ))}
          </ListBoxSection>
        </ListBox>
      )}
      <div className="dialog-actions">
        <Button className="button" onPress={onClose}>
          Cancel
        </Button>
      </div>
    </ModalDialog>
  );
}
