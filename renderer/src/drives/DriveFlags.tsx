import type { Drive } from '../../../shared/drives.ts';

type Flag = { label: string; title: string; tone?: 'caution' };

function flagsOf(drive: Drive): Flag[] {
  const flags: Flag[] = [];
  if (drive.isCard === true) flags.push({ label: 'Card', title: 'SD or other memory card' });
  // The bus already says USB for most USB drives; say it once.
  if (drive.isUSB === true && drive.busType.toUpperCase() !== 'USB') flags.push({ label: 'USB', title: 'Attached over USB' });
  if (drive.isRemovable) flags.push({ label: 'Removable', title: 'Removable media' });
  if (drive.isVirtual) flags.push({ label: 'Virtual', title: 'A virtual device (image, RAM or network disk)' });
  if (drive.isReadOnly) flags.push({ label: 'Read-only', title: 'Write-protected (check the lock switch on an SD card)', tone: 'caution' });
  if (drive.isSystem) flags.push({ label: 'System', title: 'Holds the running operating system', tone: 'caution' });
  return flags;
}

/** Bus and the drive's kind as small tags; the title says what each means. */
export function DriveFlags({ drive }: { drive: Drive }) {
  return (
    <div className="drive-flags">
      {drive.busType.toUpperCase() === 'UNKNOWN' ? (
        <span className="drive-bus is-unknown" title="The operating system did not say how this drive is attached">
          Bus unknown
        </span>
      ) : (
        <span className="drive-bus">{drive.busType}</span>
      )}
      {flagsOf(drive).map((flag) => (
        <span key={flag.label} className={flag.tone === 'caution' ? 'tag is-caution' : 'tag'} title={flag.title}>
          {flag.label}
        </span>
      ))}
    </div>
  );
}
