/**
 * What each backup class holds on the device: explicit lists, documented in README.md.
 * Paths under /etc are relative to `backup.etc_root` (default /etc), as the health sampler
 * reads /proc and /sys under `health.proc_root`/`sys_root`.
 *
 * A class is a plan of sources (plain files, folders walked recursively, SQLite databases to
 * snapshot consistently, and bytes made here); backupStream.ts turns a plan into the tar.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AgentConfig } from '../../shared/agentConfig.ts';
import type { BackupClass } from '../../shared/backupStream.ts';
import { HEALTH_DB_FILE } from '../health/healthHistory.ts';
import { journalPath } from '../journal/openJournal.ts';
import { redactConfig } from '../rpc/configRedaction.ts';
import { planModel } from './modelSources.ts';

/** Files under /etc picked by folder and name. `optional`: absent is normal (not listed as missing). */
export type EtcSelector = { dir: string; name: string | RegExp; optional: boolean; why: string; when?: (text: string) => boolean };

const holdsPsk = (text: string): boolean => /^\s*psk\s*=/m.test(text);

/** The config class: what fieldkit installs or writes under /etc (besides the agent config file itself). */
export const configClassEtc: readonly EtcSelector[] = [
  { dir: 'systemd/system', name: 'fieldkit-agent.service', optional: false, why: 'the agent unit deploy installs' },
  { dir: 'systemd/system/fieldkit-agent.service.d', name: /\.conf$/, optional: true, why: 'drop-ins for the agent unit' },
  { dir: '', name: 'hostname', optional: true, why: 'provisioning sets the hostname' },
  { dir: '', name: 'hosts', optional: true, why: "provisioning adds the hostname's 127.0.1.1 line" },
  { dir: 'NetworkManager/system-connections', name: /^fieldkit-.*\.nmconnection$/, optional: true, why: 'network (NetworkManager), without a Wi-Fi passphrase', when: (t) => !holdsPsk(t) },
  { dir: 'systemd/network', name: /^10-fieldkit-.*\.network$/, optional: true, why: 'network (systemd-networkd)' },
  { dir: 'network/interfaces.d', name: /^fieldkit-/, optional: true, why: 'network (ifupdown)' },
  { dir: '', name: 'dhcpcd.conf', optional: true, why: "network (dhcpcd), when it holds fieldkit's block", when: (t) => t.includes('# fieldkit begin ') },
  { dir: 'modprobe.d', name: 'fieldkit-wifi-country.conf', optional: true, why: 'the Wi-Fi regulatory country' },
];

/** The secrets class under /etc: identity, SSH host keys, Wi-Fi passphrases. */
export const secretsClassEtc: readonly EtcSelector[] = [
  { dir: 'fieldkit-agent', name: 'identity.json', optional: false, why: "the device's fieldkit identity (flash or provisioning writes it)" },
  { dir: 'ssh', name: /^ssh_host_[a-z0-9]+_key(\.pub)?$/, optional: false, why: 'SSH host keys (so pinned host keys still match after a restore)' },
  { dir: 'NetworkManager/system-connections', name: /^fieldkit-.*\.nmconnection$/, optional: true, why: 'Wi-Fi connections holding a passphrase', when: holdsPsk },
  { dir: 'wpa_supplicant', name: /^wpa_supplicant(-[A-Za-z0-9_.-]+)?\.conf$/, optional: true, why: 'Wi-Fi passphrases (wpa_supplicant)' },
];

/** The state class: the agent's SQLite databases in data_dir, snapshotted consistently. */
export const stateClassDatabases: readonly { file: (dataDir: string) => string; why: string }[] = [
  { file: journalPath, why: 'the journal (records not yet pulled, custody, losses)' },
  { file: (dataDir) => join(dataDir, HEALTH_DB_FILE), why: 'per-minute health history and events' },
];

export type PlannedSource =
  /** A file, or a folder walked recursively. */
  | { kind: 'path'; path: string }
  /** A SQLite database to snapshot with the online backup API. */
  | { kind: 'sqlite'; path: string }
  /** Bytes made here, stored under `path` (the agent config without its secrets). */
  | { kind: 'bytes'; path: string; bytes: Buffer; like: string };

export type ClassPlan = { sources: PlannedSource[]; missing: string[] };

export type PlanContext = { config: AgentConfig; configPath: string; extraPaths: readonly string[] };

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

/** The files under etc_root that `selectors` pick, and the required ones that are not there. */
export function selectEtcFiles(etcRoot: string, selectors: readonly EtcSelector[]): ClassPlan {
  const sources: PlannedSource[] = [];
  const missing: string[] = [];
  for (const s of selectors) {
    if (typeof s.name === 'string') {
      const path = join(etcRoot, s.dir, s.name);
      if (!existsSync(path)) {
        if (!s.optional) missing.push(path);
        continue;
      }
      if (s.when === undefined || s.when(readText(path))) sources.push({ kind: 'path', path });
      continue;
    }
    const dir = join(etcRoot, s.dir);
    const pattern = s.name;
    const names = existsSync(dir) ? readdirSync(dir).filter((n) => pattern.test(n)).sort() : [];
    if (names.length === 0 && !s.optional) missing.push(join(dir, pattern.source));
    for (const name of names) {
      const path = join(dir, name);
      if (s.when === undefined || s.when(readText(path))) sources.push({ kind: 'path', path });
    }
  }
  return { sources, missing };
}

/** The agent config as the config class keeps it: the uplink password replaced as over RPC (the full file is a secret). */
function redactedConfigSource(configPath: string, config: AgentConfig): PlannedSource {
  const text = readFileSync(configPath, 'utf8');
  if (config.uplink === null || config.uplink.password === '') return { kind: 'path', path: configPath };
  const raw = JSON.parse(text) as Record<string, unknown>;
  const redacted = redactConfig(config).uplink;
  const bytes = Buffer.from(`${JSON.stringify({ ...raw, uplink: { ...(raw.uplink as object), password: redacted?.password } }, null, 2)}\n`);
  return { kind: 'bytes', path: configPath, bytes, like: configPath };
}

function configHoldsSecret(config: AgentConfig): boolean {
  return config.uplink !== null && config.uplink.password !== '';
}

const extra = (paths: readonly string[]): PlannedSource[] => paths.map((path) => ({ kind: 'path', path }));

/** What `cls` holds on this device now. */
export function planClass(cls: BackupClass, ctx: PlanContext): ClassPlan {
  const { config, configPath } = ctx;
  const etcRoot = config.backup.etc_root;
  switch (cls) {
    case 'config': {
      const etc = selectEtcFiles(etcRoot, configClassEtc);
      const own = existsSync(configPath) ? [redactedConfigSource(configPath, config)] : [];
      return { sources: [...own, ...etc.sources, ...extra(config.backup.extra_config_paths), ...extra(ctx.extraPaths)], missing: etc.missing };
    }
    case 'secrets': {
      const etc = selectEtcFiles(etcRoot, secretsClassEtc);
      const own: PlannedSource[] = configHoldsSecret(config) ? [{ kind: 'path', path: configPath }] : [];
      return { sources: [...etc.sources, ...own, ...extra(config.backup.secret_paths), ...extra(ctx.extraPaths)], missing: etc.missing };
    }
    case 'state': {
      const sources: PlannedSource[] = [];
      const missing: string[] = [];
      for (const db of stateClassDatabases) {
        const path = db.file(config.data_dir);
        if (existsSync(path)) sources.push({ kind: 'sqlite', path });
        else missing.push(path);
      }
      // The active model's manifest, and its files only where no signed bundle holds them.
      const model = planModel(config.backup.models_dir);
      return { sources: [...sources, ...extra(model.paths), ...extra(ctx.extraPaths)], missing: [...missing, ...model.missing] };
    }
    case 'data':
      return { sources: [...extra(config.backup.data_paths), ...extra(ctx.extraPaths)], missing: [] };
  }
}
