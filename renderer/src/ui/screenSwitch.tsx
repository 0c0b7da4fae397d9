/**
 * Going to another screen from inside one (Enter on a device row opens its Health page).
 * The shell provides the switch; screens name where to go by id.
 */
import { createContext, useContext } from 'react';

export const ScreenSwitchContext = createContext<((screenId: string) => void) | null>(null);

/** Shows the screen `screenId` as if its tab were chosen. */
export function useSwitchScreen(): (screenId: string) => void {
  const switchTo = useContext(ScreenSwitchContext);
  if (switchTo === null) throw new Error('useSwitchScreen must be used inside the shell.');
  return switchTo;
}
