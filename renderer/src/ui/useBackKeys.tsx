/**
 * Escape or Alt+← (⌘[ is the browser's own) goes back from a page opened within a screen,
 * as a browser's Back would. Escape is left alone while a dialog or menu is open (it closes
 * that first), when something already handled it, and while typing in a field.
 */
import { useEffect, useEffectEvent } from 'react';

function typingIn(target: EventTarget | null): boolean {
  return target instanceof HTMLElement && (target.isContentEditable || target.matches('input, textarea, select'));
}

function overlayOpen(): boolean {
  return document.querySelector('[role="dialog"], [role="menu"], [role="listbox"][data-open]') !== null;
}

export function useBackKeys(onBack: () => void): void {
  const back = useEffectEvent(onBack);
  useEffect(() => {
    function onKeyDown(event: KeyboardEvent): void {
      if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.shiftKey) return;
      const escape = event.key === 'Escape' && !event.altKey && !typingIn(event.target) && !overlayOpen();
      const altLeft = event.key === 'ArrowLeft' && event.altKey;
      if (!escape && !altLeft) return;
      event.preventDefault();
      back();
    }
    window.addEventListener('keydown', onKeyDown);
    return () => {
      window.removeEventListener('keydown', onKeyDown);
    };
  }, []);
}

/** "Esc" inside a Back button; it also names both keys in the button's title and aria-keyshortcuts (react-aria's Button does not pass those through). */
export function BackKeysHint() {
  const mark = (node: HTMLElement | null): void => {
    const button = node?.closest('button');
    if (button == null) return;
    button.title = 'Back (Esc or Alt+←)';
    button.setAttribute('aria-keyshortcuts', 'Escape Alt+ArrowLeft');
  };
  return (
    <kbd className="button-shortcut" aria-hidden="true" ref={mark}>
      Esc
    </kbd>
  );
}
