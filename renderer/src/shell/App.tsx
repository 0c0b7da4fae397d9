import { useEffect, useState } from 'react';
import { Tabs } from 'react-aria-components';
import { useConnectionSnapshot } from '../api/hooks.ts';
import { ScreenMemoryProvider } from '../ui/ScreenMemory.tsx';
import { ScreenSwitchContext } from '../ui/screenSwitch.tsx';
import { JobsStatusBar } from '../jobs/JobsStatusBar.tsx';
import { JobsProvider } from '../jobs/JobsProvider.tsx';
import { AccessTokenMissing, AccessTokenRefused } from './AccessScreens.tsx';
import { ConnectionBanner } from './ConnectionBanner.tsx';
import { jobSummaries } from './jobSummaries.ts';
import { Navigation } from './Navigation.tsx';
import { ScreenPanels } from './ScreenPanels.tsx';
import { isScreenId, type ScreenId } from './screens.tsx';
import { useScreenShortcuts } from './useScreenShortcuts.ts';
import './shell.css';

/** The whole window: access screens when the web host cannot be used, else the shell. */
export function App() {
  const { state } = useConnectionSnapshot();
  if (state.kind === 'no-token') return <AccessTokenMissing />;
  if (state.kind === 'refused') return <AccessTokenRefused />;
  return (
    <JobsProvider summaries={jobSummaries}>
      <ScreenMemoryProvider>
        <Shell />
      </ScreenMemoryProvider>
    </JobsProvider>
  );
}

function Shell() {
  const [screen, setScreen] = useState<ScreenId>('drives');
  useScreenShortcuts(setScreen);
  // Marks the shell as mounted with its keyboard shortcuts listening (effects run in order):
  // a page automated by Playwright waits for it, as a key pressed before it would be lost.
  useEffect(() => {
    document.documentElement.dataset.shell = 'ready';
    return () => {
      delete document.documentElement.dataset.shell;
    };
  }, []);
  const switchScreen = (id: string): void => {
    if (!isScreenId(id)) return;
    setScreen(id);
    // Focus goes with the selection, as with Alt+digit, so Tab continues from the new screen.
    requestAnimationFrame(() => document.querySelector<HTMLElement>(`[role="tab"][data-screen="${id}"]`)?.focus());
  };
  return (
    <ScreenSwitchContext value={switchScreen}>
      <Tabs
        className="shell"
        orientation="vertical"
        selectedKey={screen}
        onSelectionChange={(key) => {
          if (isScreenId(key)) setScreen(key);
        }}
      >
        <Navigation />
        <div className="workspace">
          <ConnectionBanner />
          <main className="screen-area">
            <ScreenPanels />
          </main>
          <JobsStatusBar />
        </div>
      </Tabs>
    </ScreenSwitchContext>
  );
}
