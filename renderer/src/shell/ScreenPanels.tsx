import { TabPanel } from 'react-aria-components';
import { screens } from './screens.tsx';

/** One panel per screen; only the selected one is mounted, so each fetches fresh on entry. */
export function ScreenPanels() {
  return (
    <>
      {screens.map((screen) => (
        <TabPanel key={screen.id} id={screen.id} className="screen-panel">
          {screen.render()}
        </TabPanel>
      ))}
    </>
  );
}
