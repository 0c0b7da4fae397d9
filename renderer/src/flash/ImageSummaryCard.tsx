import type { ReactNode } from 'react';
import type { ImageSummary, SignatureStatus } from '../../../shared/flash.ts';
import { formatBytes, formatExactBytes } from '../../../shared/format.ts';
import type { PartitionRole } from '../../../shared/image.ts';
import { ErrorNotice } from '../ui/ErrorNotice.tsx';

const roleLabels: Record<PartitionRole, string> = {
  bootsel: 'boot selector',
  boot_a: 'boot A',
  boot_b: 'boot B',
  root_a: 'root A',
  root_b: 'root B',
  data: 'data',
  other: 'other',
};

const firstBootLabels: Record<ImageSummary['firstBoot'], string> = {
  'cloud-init': 'cloud-init (user-data, meta-data, network-config)',
  firstrun: 'firstrun.sh with the cmdline hook',
  none: 'none declared (identity files only)',
};

/** The signature in one badge: who signed it and whether this laptop trusts that. */
export function SignatureBadge({ image }: { image: ImageSummary }) {
  const { status, signer, keyId, revokedReason } = image.signature;
  const key = keyId === null ? '' : ` (key ${keyId})`;
  const text: Record<SignatureStatus, string> = {
    trusted: `✓ Signed by ${signer ?? 'a trusted key'}${key}`,
    untrusted: `✕ Signed by a key this laptop does not trust${key}`,
    revoked: `✕ Signed by a revoked key${signer === null ? '' : ` ${signer}`}${key}${revokedReason === null ? '' : `: ${revokedReason}`}`,
    invalid: `✕ Signature does not match${key} — the image was altered`,
    unsigned: '⚠ Unsigned image',
  };
  return (
    <span className={`signature-badge is-${status}`} data-testid="signature-status" data-status={status}>
      {text[status]}
    </span>
  );
}

/** Everything known about an image before a byte is written: what, for which boards, how big, its layout, and why not. */
export function ImageSummaryCard({ image }: { image: ImageSummary }) {
  const name = image.path.split(/[/\\]/).pop() ?? image.path;
  const title = image.product === null ? name : `${image.product} ${image.version ?? ''}`.trim();
  return (
    <div className="image-summary" data-testid="image-summary" data-kind={image.kind}>
      <div className="image-summary-head">
        <h3 className="image-title">{title}</h3>
        <SignatureBadge image={image} />
      </div>
      <p className="image-path mono" title={image.path}>
        {image.path}
      </p>
      {image.kind === 'plain' && (
        <p className="unsigned-warning" role="note" data-testid="unsigned-image-warning">
          <strong>Unsigned image.</strong> Nobody vouches for what is in it: fieldkit cannot tell whether it was altered. Flash it only if you made it yourself or
          checked it another way.
        </p>
      )}
      {image.problems.length > 0 && (
        <div className="image-problems" data-testid="image-problems">
          <p className="image-problems-title">This image cannot be flashed:</p>
          {image.problems.map((problem, i) => (
            <ErrorNotice key={`${problem.code}-${i}`} error={problem} announce />
          ))}
        </div>
      )}
      {image.warnings.length > 0 && (
        <ul className="image-warnings">
          {image.warnings.map((warning) => (
            <li key={warning} className="drive-warning">
              <span aria-hidden="true">⚠ </span>
              {warning}
            </li>
          ))}
        </ul>
      )}
      <dl className="image-facts">
        <Fact label="Version">{image.version ?? '—'}</Fact>
        <Fact label="Sequence">{image.sequence ?? '—'}</Fact>
        <Fact label="Boards">{image.boards.length === 0 ? 'not stated' : image.boards.join(', ')}</Fact>
        <Fact label="Disk size">{image.rawBytes === null ? 'unknown until written' : <span title={formatExactBytes(image.rawBytes)}>{formatBytes(image.rawBytes)}</span>}</Fact>
        <Fact label="Written">
          {image.mappedBytes === null ? 'every block' : <span title={formatExactBytes(image.mappedBytes)}>{formatBytes(image.mappedBytes)} (free filesystem space skipped)</span>}
        </Fact>
        <Fact label="File">
          {formatBytes(image.fileBytes)}, {image.compression === 'none' ? 'uncompressed' : image.compression}
        </Fact>
        <Fact label="Issued">{image.issuedAt === null ? '—' : day(image.issuedAt)}</Fact>
        <Fact label="Expires">{image.expiresAt === null ? 'never' : day(image.expiresAt)}</Fact>
        <Fact label="First boot">{firstBootLabels[image.firstBoot]}</Fact>
      </dl>
      {image.layout !== null && (
        <table className="data-table is-compact is-auto layout-table" data-testid="image-layout">
          <caption>Partitions ({image.layout.table.toUpperCase()})</caption>
          <thead>
            <tr>
              <th scope="col">#</th>
              <th scope="col">Role</th>
              <th scope="col" className="is-num">
                Start
              </th>
              <th scope="col" className="is-num">
                Size
              </th>
              <th scope="col">Type</th>
              <th scope="col">Label</th>
            </tr>
          </thead>
          <tbody>
            {image.layout.partitions.map((part) => (
              <tr key={part.index} data-role={part.role}>
                <td className="num">{part.index}</td>
                <td>
                  <span className={`role-tag is-${part.role}`}>{roleLabels[part.role]}</span>
                </td>
                <td className="num is-num">{formatBytes(part.start)}</td>
                <td className="num is-num">{formatBytes(part.size)}</td>
                <td className="mono">{part.type}</td>
                <td>{part.label ?? ''}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

function Fact({ label, children }: { label: string; children: ReactNode }) {
  return (
    <div className="image-fact">
      <dt>{label}</dt>
      <dd className="num">{children}</dd>
    </div>
  );
}

function day(iso: string): string {
  return iso.slice(0, 10);
}
