/** The agent's version: the package version, fixed into the bundle at build time. */
import pkg from '../package.json' with { type: 'json' };

export const agentVersion: string = pkg.version;
