import type { BundleSummary } from '../../../shared/deploy.ts';
import { formatBytes } from '../../../shared/format.ts';
import { ErrorNotice } from '../ui/ErrorNotice.tsx';

const signatureText: Record<BundleSummary['signature']['status'], (b: BundleSummary) => string> = {
  trusted: (b) => `✓ Signed by ${b.signature.signer ?? 'a trusted key'}${b.signature.keyId === null ? '' : ` (key ${b.signature.keyId})`}`,
  untrusted: (b) => `✕ Signed by a key this laptop does not trust${b.signature.keyId === null ? '' : ` (key ${b.signature.keyId})`}`,
  revoked: (b) => `✕ Signed by a revoked key${b.signature.signer === null ? '' : ` ${b.signature.signer}`}`,
  invalid: () => '✕ Signature or files do not match — the bundle was altered',
  unread: () => 'Signature not checked',
};

/** A path that could not be read as a bundle says what is there instead, and nothing about a signature. */
function unreadTitle(bundle: BundleSummary): string {
  const code = bundle.problems[0]?.code;
  if (code === 'NOT_FOUND') return 'File not found';
  if (code === 'PERMISSION_DENIED') return 'File cannot be read';
  if (code === 'IO_ERROR') return 'Reading the file failed';
  return 'Not a signed bundle';
}

function UnreadBundle({ bundle }: { bundle: BundleSummary }) {
  return (
    <div className="image-summary bundle-card is-unread" data-testid="bundle-summary" data-status="unread">
      <div className="image-summary-head">
        <h3 className="image-title">{unreadTitle(bundle)}</h3>
        <span className="signature-badge is-unread" data-testid="bundle-signature" data-status="unread">
          {signatureText.unread(bundle)}
        </span>
      </div>
      <p className="image-path mono">{bundle.path}</p>
      <div className="image-problems" data-testid="bundle-problems">
        {bundle.problems.map((problem, i) => (
          <ErrorNotice key={`${problem.code}-${i}`} error={problem} announce />
        ))}
      </div>
    </div>
  );
}

/** What a bundle is before anything is sent: signer, version, architecture, files, and why not. */
export function BundleCard({ bundle }: { bundle: BundleSummary }) {
  const { status } = bundle.signature;
  if (status === 'unread') return <UnreadBundle bundle={bundle} />;
  const shown = bundle.files.slice(0, 12);
  return (
    <div className="image-summary bundle-card" data-testid="bundle-summary" data-kind={bundle.kind}>
      <div className="image-summary-head">
        <h3 className="image-title">{bundle.product === '' ? 'Unreadable bundle' : `${bundle.product} ${bundle.version}`}</h3>
        <span className={`signature-badge is-${status}`} data-testid="bundle-signature" data-status={status}>
          {signatureText[status](bundle)}
        </span>
      </div>
      <p className="image-path mono">{bundle.path}</p>
      {bundle.problems.length > 0 && (
        <div className="image-problems" data-testid="bundle-problems">
          <p className="image-problems-title">This bundle cannot be deployed:</p>
          {bundle.problems.map((problem, i) => (
            <ErrorNotice key={`${problem.code}-${i}`} error={problem} announce />
          ))}
        </div>
      )}
      <dl className="image-facts">
        <div className="image-fact">
          <dt>Kind</dt>
          <dd>{bundle.kind === 'agent' ? 'edge agent' : bundle.kind === 'model' ? 'model' : 'OS image (A/B slot update)'}</dd>
        </div>
        <div className="image-fact">
          <dt>Version</dt>
          <dd className="num">{bundle.version || '—'}</dd>
        </div>
        <div className="image-fact">
          <dt>Architecture</dt>
          <dd>{bundle.arch ?? 'any'}</dd>
        </div>
        <div className="image-fact">
          <dt>Contents</dt>
          <dd className="num">
            {bundle.files.length} files, {formatBytes(bundle.totalBytes)}
          </dd>
        </div>
      </dl>
      {shown.length > 0 && (
        <details className="bundle-files">
          <summary>Files and their SHA-256</summary>
          <ul className="mono">
            {shown.map((f) => (
              <li key={f.path}>
                {f.path} · {formatBytes(f.size)} · {f.sha256.slice(0, 16)}…
              </li>
            ))}
            {bundle.files.length > shown.length && <li>… and {bundle.files.length - shown.length} more</li>}
          </ul>
        </details>
      )}
      <p className="muted bundle-note">Only what a device lacks is sent: files are addressed by SHA-256, so the Node runtime crosses the link once.</p>
    </div>
  );
}
