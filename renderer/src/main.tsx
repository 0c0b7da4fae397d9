/**
 * Entry of the renderer. The carrier is chosen once, before React renders, so the token
 * leaves the address bar before anything else can read or show it.
 */
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { connectToFieldkit } from './api/connectToFieldkit.ts';
import { ConnectionProvider } from './api/ConnectionProvider.tsx';
import { App } from './shell/App.tsx';
import './styles/base.css';

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
