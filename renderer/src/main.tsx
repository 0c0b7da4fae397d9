/**
 * Entry of the renderer. The carrier is chosen once, before React renders, so the token
 * leaves the address bar before anything else can read or show it.
 */
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
// Stylesheets cascade in import order. The table frame and the step panel come before the
// screens' sheets (imported by the screens inside App), so a screen's rules adjust them;
// tokens and the generic controls come after them, where they always were.
import './ui/data-table.css';
import './ui/panels.css';
import { connectToFieldkit } from './api/connectToFieldkit.ts';
import { ConnectionProvider } from './api/ConnectionProvider.tsx';
import { App } from './shell/App.tsx';
import './styles/base.css';
import './ui/buttons.css';
import './ui/form.css';
import './ui/dialog.css';
import './ui/notices.css';

const connection = connectToFieldkit();
const root = document.getElementById('root');
if (root === null) throw new Error('index.html has no #root element.');

createRoot(root).render(
  <StrictMode>
    <ConnectionProvider connection={connection}>
      <App />
    </ConnectionProvider>
  </StrictMode>,
);
