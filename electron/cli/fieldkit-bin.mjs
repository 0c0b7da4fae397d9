#!/usr/bin/env node
// The `fieldkit` command from a checkout (package.json "bin"; `npm link` puts it on PATH).
// Node 24 runs the TypeScript sources directly; an older Node is told so instead of
// failing on the first type annotation.
const major = Number(process.versions.node.split('.')[0]);
if (major < 24) {
  process.stderr.write(`fieldkit needs Node.js 24 or later; this is Node.js ${process.versions.node}.\nInstall Node 24 (https://nodejs.org), then run fieldkit again.\n`);
  process.exit(1);
}
await import('./fieldkit.ts');
