import type { QuarantineEntry } from '../../../shared/courier.ts';
import { useBridge } from '../api/hooks.ts';
import { ReasonDialog } from '../ui/ReasonDialog.tsx';
import { count, seqSpan } from './courierText.ts';

/** Giving up on refused rows for good: only with a reason, which reconcile shows from then on. */
export function DiscardDialog({ entries, onClose, onDiscarded }: { entries: readonly QuarantineEntry[]; onClose: () => void; onDiscarded: (discarded: number) => void }) {
  const bridge = useBridge();
  const one = entries.length === 1 ? entries[0] : undefined;
  return (
    <ReasonDialog
      title={one === undefined ? `Discard ${count(entries.length)} refused rows?` : `Discard ${seqSpan(one.seq, one.to_seq)} of ${one.device_id}?`}
      testId="discard-dialog"
      reasonLabel="Reason (kept with the rows)"
      placeholder="e.g. payload from a firmware bug, confirmed garbage"
      whyAReason="Say why these rows are discarded; the reason stays with them and reconcile shows it."
      actionLabel="Discard"
      pendingLabel="Discarding…"
      onClose={onClose}
      perform={async (reason) => {
        const result = await bridge.invoke('courier.quarantine.discard', { ids: entries.map((e) => e.id), reason });
        if (!result.ok) return result.error;
        onDiscarded(result.value.discarded);
        return null;
      }}
    >
      <p>
        {one === undefined ? 'These rows' : 'This row'} will never reach ClickHouse. The device may already have pruned {one === undefined ? 'them' : 'it'}, so this cannot be undone
        from here. Reconcile will show {one === undefined ? 'them' : 'it'} as discarded, with your reason.
      </p>
      {one !== undefined && <p className="muted">Server&apos;s reason: {one.reason}</p>}
    </ReasonDialog>
  );
}
