/**
 * A screen's main actions from the keyboard: Alt+Shift+<letter> (⌥⇧ on a Mac) while the
 * screen is shown. Alt+<digit> picks screens; adding Shift keeps the letters clear of the
 * browser's and the desktop's own Alt+<letter> menus. The shortcut is said where the action
 * is: in the button's title, its aria-keyshortcuts, and a visible hint beside its label.
 */
import { useEffect, useEffectEvent } from 'react';

/** The letters in use, one per main action (a screen is mounted only while shown, so screens may reuse one). */
export type ShortcutLetter = 'R' | 'P' | 'F';

function isMac(): boolean {
  return /Mac OS X|Macintosh/.test(navigator.userAgent);
}

/** "Alt+Shift+P", or "⌥⇧P" on a Mac. */
export function shortcutText(letter: ShortcutLetter): string {
  return isMac() ? `⌥⇧${letter}` : `Alt+Shift+${letter}`;
}

/**
 * Runs `action` on Alt+Shift+`letter` while the calling component is mounted and `enabled`
 * (a disabled button's shortcut does nothing, as the button would). Matched on `code`: on a
 * Mac, Option+Shift+P types "∏", and layouts differ in what Shift gives.
 */
export function useActionShortcut(letter: ShortcutLetter, action: () => void, enabled = true): void {
  const run = useEffectEvent(action);
  useEffect(() => {
    if (!enabled) return;
    function onKeyDown(event: KeyboardEvent): void {
      if (!event.altKey || !event.shiftKey || event.ctrlKey || event.metaKey || event.repeat) return;
      if (event.code !== `Key${letter}`) return;
      // A dialog over the screen owns the keyboard: its screen's actions wait.
      if (document.querySelector('[role="dialog"][aria-modal="true"], [data-modal-open]') !== null) return;
      event.preventDefault();
      run();
    }
    window.addEventListener('keydown', onKeyDown);
    return () => {
      window.removeEventListener('keydown', onKeyDown);
    };
  }, [letter, enabled]);
}

/**
 * The visible hint inside a button, after its label (hidden from screen readers). It also
 * names the shortcut on the button itself — its title ("Pull all (Alt+Shift+P)") and
 * aria-keyshortcuts — which react-aria's Button does not pass through to the element.
 */
export function ShortcutHint({ letter, label }: { letter: ShortcutLetter; label: string }) {
  const text = shortcutText(letter);
  const mark = (node: HTMLElement | null): void => {
    const button = node?.closest('button');
    if (button == null) return;
    button.title = `${label} (${text})`;
    button.setAttribute('aria-keyshortcuts', `Alt+Shift+${letter}`);
  };
  return (
    <kbd className="button-shortcut" aria-hidden="true" ref={mark}>
      {text}
    </kbd>
  );
}
