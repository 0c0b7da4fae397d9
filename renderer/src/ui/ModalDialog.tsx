import type { ReactNode } from 'react';
import { Dialog, Heading, Modal, ModalOverlay } from 'react-aria-components';

/**
 * A modal with a title: focus moves into it and stays there, Escape closes it, and focus
 * returns where it was. `alertdialog` for questions whose answer changes what is trusted
 * or kept, so screen readers read them at once.
 */
export function ModalDialog({
  title,
  onClose,
  children,
  role = 'dialog',
  tone = 'normal',
  wide = false,
  testId,
}: {
  title: ReactNode;
  onClose: () => void;
  children: ReactNode;
  role?: 'dialog' | 'alertdialog';
  tone?: 'normal' | 'danger';
  wide?: boolean;
  testId?: string;
}) {
  return (
    <ModalOverlay
      className="modal-overlay"
      isOpen
      isDismissable={role === 'dialog'}
      onOpenChange={(open) => {
        if (!open) onClose();
      }}
    >
      <Modal className={`modal${wide ? ' is-wide' : ''}${tone === 'danger' ? ' is-danger' : ''}`}>
        <Dialog className="dialog" role={role} data-testid={testId}>
          <Heading slot="title" className="dialog-title">
            {title}
          </Heading>
          {children}
        </Dialog>
      </Modal>
    </ModalOverlay>
  );
}
