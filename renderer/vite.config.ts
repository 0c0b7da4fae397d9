/**
 * Vite config for the renderer. `base: './'` keeps every asset URL relative, so the same
 * build loads from file:// in Electron and from the web host at any path.
 */
import { defineConfig, type Plugin } from 'vite';
import react from '@vitejs/plugin-react';

/**
 * The production page forbids everything it does not need: no inline script or style, no
 * remote content, and connections only back to its own origin (the web host's WebSocket).
 * Only added to the build, because Vite's dev server injects inline scripts and styles.
 */
const contentSecurityPolicy = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "object-src 'none'",
].join('; ');

function strictContentSecurityPolicy(): Plugin {
  return {
    name: 'fieldkit-strict-csp',
    apply: 'build',
    transformIndexHtml: () => [
      {
        tag: 'meta',
        attrs: { 'http-equiv': 'Content-Security-Policy', content: contentSecurityPolicy },
        injectTo: 'head-prepend',
      },
    ],
  };
}

export default defineConfig({
  root: import.meta.dirname,
  base: './',
  plugins: [react(), strictContentSecurityPolicy()],
  build: {
    outDir: '../dist/renderer',
    emptyOutDir: true,
    target: 'chrome130',
    // Inlined assets would need data: in more CSP directives; files are just as fast from disk.
    assetsInlineLimit: 0,
    sourcemap: true,
    // One chunk read from local disk (or 127.0.0.1) loads at once; splitting buys nothing here.
    chunkSizeWarningLimit: 1024,
  },
});
