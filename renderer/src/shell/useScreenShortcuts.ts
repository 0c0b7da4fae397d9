import { useEffect, useEffectEvent } from 'react';
import { screens, type ScreenId } from './screens.tsx';

/**
 * Alt+1 … Alt+7 jump to a screen from anywhere. Matching on `code` rather than `key`
 * because on macOS Option+1 types "¡", and on AZERTY the digits need Shift.
 */
export function useScreenShortcuts(select: (id: ScreenId) => void): void {
  const onSelect = useEffectEvent(select);
  useEffect(() => {
    function onKeyDown(event: KeyboardEvent): void {
      if (!event.altKey || event.ctrlKey || event.metaKey || event.shiftKey) return;
      const match = /^(?:Digit|Numpad)([1-9])$/.exec(event.code);
      const screen = match?.[1] === undefined ? undefined : screens[Number(match[1]) - 1];
      if (screen === undefined) return;
      event.preventDefault();
      onSelect(screen.id);
      // Keep focus with the selection, as arrow keys in the tab list do.
      document.querySelector<HTMLElement>(`[role="tab"][data-screen="${screen.id}"]`)?.focus();
    }
    window.addEventListener('keydown', onKeyDown);
    return () => { window.removeEventListener('keydown', onKeyDown); };
  }, []);
}

/** How the shortcut is written on this platform. */
export function shortcutLabel(position: number): string {
  const isMac = /Mac OS X|Macintosh/.test(navigator.userAgent);
  return isMac ? `⌥${position}` : `Alt+${position}`;
}
