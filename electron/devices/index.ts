/**
 * The devices domain's door: what the other domains may use of it (lint lets a sibling
 * import devices/ only through this file). Re-exports only, so far; the domain's own
 * contributions (API handlers, job kinds, CLI commands) are added here as it registers itself.
 */
export { agentRpcCommand, openAgentSession, openDeviceLink } from './deviceConnection.ts';
