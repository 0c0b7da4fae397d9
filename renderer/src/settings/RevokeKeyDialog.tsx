import type { TrustedKey } from '../../../shared/trust.ts';
import { useBridge } from '../api/hooks.ts';
import { ReasonDialog } from '../ui/ReasonDialog.tsx';

/** Revoking is for good (the key can never be imported again), so it asks, and keeps a reason. */
export function RevokeKeyDialog({ trustedKey, onClose, onRevoked }: { trustedKey: TrustedKey; onClose: () => void; onRevoked: (key: TrustedKey) => void }) {
  const bridge = useBridge();
  return (
    <ReasonDialog
      title={`Revoke key ${trustedKey.keyId}?`}
      role="alertdialog"
      testId="revoke-key-dialog"
      reasonLabel="Reason (kept with the key)"
      placeholder="e.g. secret key leaked, publisher rotated keys"
      whyAReason="Say why this key is revoked; the reason is shown whenever an image it signed is refused."
      actionLabel="Revoke key"
      pendingLabel="Revoking…"
      onClose={onClose}
      perform={async (reason) => {
        const result = await bridge.invoke('trust.revoke', { keyId: trustedKey.keyId, reason });
        if (!result.ok) return result.error;
        onRevoked(result.value.key);
        return null;
      }}
    >
      <p>
        Images signed by <strong>{trustedKey.label}</strong> will be refused from now on, and this key can never be imported again. This cannot be undone.
      </p>
    </ReasonDialog>
  );
}
