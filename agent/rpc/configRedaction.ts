/**
 * Secrets never leave the device over RPC: the uplink password goes out as "***". A
 * laptop that reads the config, edits it and writes it back sends "***" again, which
 * means "keep the password you have", so a round trip never overwrites the secret.
 */
import type { AgentConfig } from '../../shared/agentConfig.ts';
import { appError, FieldkitError } from '../../shared/errors.ts';

export const redactedSecret = '***';

/** The config as the laptop may see it. An empty password stays empty (it tells "none set"). */
export function redactConfig(config: AgentConfig): AgentConfig {
  if (config.uplink === null || config.uplink.password === '') return config;
  return { ...config, uplink: { ...config.uplink, password: redactedSecret } };
}

/** Puts the stored password back where the laptop sent "***" for it. */
export function restoreRedactedSecrets(incoming: AgentConfig, current: AgentConfig): AgentConfig {
  if (incoming.uplink === null || incoming.uplink.password !== redactedSecret) return incoming;
  const stored = current.uplink?.password ?? '';
  if (stored === '') {
    throw new FieldkitError(
      appError(
        'BAD_REQUEST',
        `The uplink password is "${redactedSecret}" (keep the stored one), but this device has none stored.`,
        'Send the real uplink password, or an empty one for none.',
        'params.config.uplink.password',
      ),
    );
  }
  return { ...incoming, uplink: { ...incoming.uplink, password: stored } };
}
