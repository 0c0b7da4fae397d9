/**
 * Versions a backup manifest records: the OS image the device runs and its active model.
 * Each is null when the device cannot say, never a guess.
 */
import { readFileSync, readlinkSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { AgentConfig } from '../../shared/agentConfig.ts';

/** VERSION_ID (else VERSION) of an os-release text; null when it names none. */
export function osReleaseVersion(text: string): string | null {
  const values = new Map<string, string>();
  for (const line of text.split('\n')) {
    const match = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (match?.[1] === undefined || match[2] === undefined) continue;
    values.set(match[1], match[2].replace(/^(["'])(.*)\1$/, '$2'));
  }
  const version = values.get('VERSION_ID') ?? values.get('VERSION') ?? '';
  return version === '' ? null : version;
}

/**
 * The image version from os-release (fieldkit images keep the base OS's; no fieldkit marker
 * is written into the root filesystem yet). /usr/lib/os-release is the fallback the
 * os-release spec names, only for the real /etc.
 */
export function imageVersion(etcRoot: string): string | null {
  const candidates = etcRoot === '/etc' ? ['/etc/os-release', '/usr/lib/os-release'] : [join(etcRoot, 'os-release')];
  for (const path of candidates) {
    try {
      return osReleaseVersion(readFileSync(path, 'utf8'));
    } catch {
      // next candidate
    }
  }
  return null;
}

/** The version `models/active` points at (as deploy switches it), else the config's model_version, else null. */
export function activeModelVersion(config: AgentConfig): string | null {
  try {
    return basename(readlinkSync(join(config.backup.models_dir, 'active')));
  } catch {
    return config.model_version === '' ? null : config.model_version;
  }
}
