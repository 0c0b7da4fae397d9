/**
 * Tab through every row's buttons. A react-aria Table is one Tab stop: arrow keys move
 * between rows and into their cells, and Tab leaves the table. A technician who tabs to
 * "Pull" or "Connect" expects the next row's button next, as in any form; this keydown
 * handler (capture phase, on an element around the table) moves Tab and Shift+Tab between
 * the table's enabled controls in order, and leaves the table only after the last (or
 * before the first) of them. Arrow keys and Enter on rows keep working as before.
 * (`.tab-scope` has display: contents: an element with no box of its own still sees the keys.)
 */
import type { KeyboardEvent } from 'react';

const controlSelector = 'button, a[href], input, select, textarea, [role="button"]';

function isUsable(element: HTMLElement): boolean {
  if (element.matches(':disabled') || element.getAttribute('aria-disabled') === 'true') return false;
  return element.getClientRects().length > 0;
}

/** The control Tab (or Shift+Tab) should reach from `active` inside `root`, or null to leave the table. */
export function nextControl(root: HTMLElement, active: Element | null, backwards: boolean): HTMLElement | null {
  const controls = [...root.querySelectorAll<HTMLElement>(controlSelector)].filter(isUsable);
  if (controls.length === 0 || active === null || !root.contains(active)) return null;
  const at = controls.indexOf(active as HTMLElement);
  if (at >= 0) return controls[backwards ? at - 1 : at + 1] ?? null;
  // Focus is on a row or a cell: its own controls come next, the previous row's before.
  const after = controls.findIndex((control) => (active.compareDocumentPosition(control) & Node.DOCUMENT_POSITION_FOLLOWING) !== 0);
  if (backwards) return after === -1 ? (controls.at(-1) ?? null) : (controls[after - 1] ?? null);
  return after === -1 ? null : (controls[after] ?? null);
}

const tabbableSelector = `${controlSelector}, [tabindex]:not([tabindex="-1"])`;

/**
 * The first tabbable element after `root` (or the last before it): where Tab goes on leaving
 * the table. Done here, not by react-aria's own tab-out, which on a control inside a row
 * kept focus in the table.
 */
export function outsideNeighbour(root: HTMLElement, backwards: boolean): HTMLElement | null {
  const outside = [...document.querySelectorAll<HTMLElement>(tabbableSelector)].filter((element) => !root.contains(element) && isUsable(element));
  if (backwards) return outside.filter((element) => (root.compareDocumentPosition(element) & Node.DOCUMENT_POSITION_PRECEDING) !== 0).at(-1) ?? null;
  return outside.find((element) => (root.compareDocumentPosition(element) & Node.DOCUMENT_POSITION_FOLLOWING) !== 0) ?? null;
}

export function tabThroughRows(event: KeyboardEvent<HTMLElement>): void {
  if (event.key !== 'Tab' || event.altKey || event.ctrlKey || event.metaKey) return;
  const root = event.currentTarget;
  const target = nextControl(root, document.activeElement, event.shiftKey) ?? outsideNeighbour(root, event.shiftKey);
  if (target === null) return;
  event.preventDefault();
  event.stopPropagation();
  target.focus();
}
