import { Tab, TabList } from 'react-aria-components';
import { useBridge, useConnectionSnapshot } from '../api/hooks.ts';
import iconUrl from '../assets/fieldkit-icon.svg';
import { screens } from './screens.tsx';
import { shortcutLabel } from './useScreenShortcuts.ts';

/** The left rail: arrow keys move between screens, Tab moves into the screen. */
export function Navigation() {
  return (
    <nav className="sidebar" aria-label="fieldkit">
      <div className="brand">
        <img className="brand-mark" src={iconUrl} alt="" width={20} height={20} />
        <span className="brand-name">fieldkit</span>
      </div>
      <TabList aria-label="Screens" className="nav-list">
        {screens.map((screen, index) => (
          <Tab key={screen.id} id={screen.id} className="nav-item" data-screen={screen.id}>
            <span className="nav-label">{screen.label}</span>
            <kbd className="nav-shortcut">{shortcutLabel(index + 1)}</kbd>
          </Tab>
        ))}
      </TabList>
      <ConnectionIndicator />
    </nav>
  );
}

function ConnectionIndicator() {
  const bridge = useBridge();
  const { state } = useConnectionSnapshot();
  const up = state.kind === 'open';
  const where = bridge.carrier === 'electron' ? 'App' : 'Browser';
  return (
    <p className={up ? 'connection-indicator is-up' : 'connection-indicator is-down'}>
      <span className="connection-dot" aria-hidden="true" />
      {where} · {up ? 'connected' : state.kind === 'connecting' ? 'connecting…' : 'offline'}
    </p>
  );
}
