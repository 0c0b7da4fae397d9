// Preloaded into a process (NODE_OPTIONS=--import=<this file>): records the file: modules it
// loads and writes them, one URL a line, to $FIELDKIT_RECORD_MODULES when it exits.
import { writeFileSync } from 'node:fs';
import { registerHooks } from 'node:module';

const out = process.env.FIELDKIT_RECORD_MODULES;
const loaded = new Set<string>();
registerHooks({
  load(url, context, next) {
    if (url.startsWith('file:')) loaded.add(url);
    return next(url, context);
  },
});
process.on('exit', () => {
  if (out) writeFileSync(out, [...loaded].join('\n'));
});
