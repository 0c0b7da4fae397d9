/** The agent's config file, read and (over RPC) rewritten atomically. */
import type { AgentConfig } from '../../shared/agentConfig.ts';

export type ConfigStore = {
  get(): AgentConfig;
  /** Validates, writes atomically (temp, fsync, rename) and says whether a restart is needed to apply it. */
  set(config: AgentConfig): { config: AgentConfig; restart_required: boolean };
  readonly path: string;
};
