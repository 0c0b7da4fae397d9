/**
 * The small files of the agent bundle besides the code and the runtime: the launcher, the
 * systemd unit rendered for an install layout, and the example config. The layout (install
 * prefix, data folder, config path) is fixed at build time because the unit names paths.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { AgentConfigSchema, type AgentConfig } from '../../shared/agentConfig.ts';
import type { AgentArch } from '../../shared/agentBundle.ts';

export type InstallLayout = { prefix: string; dataDir: string; configPath: string };

export const defaultLayout: InstallLayout = {
  prefix: '/opt/fieldkit-agent',
  dataDir: '/var/lib/fieldkit-agent',
  configPath: '/etc/fieldkit-agent/config.json',
};

const here = import.meta.dirname;

/**
 * systemd splits unit values on whitespace and treats `%` and `\` specially; paths that need
 * quoting have no business in an install layout, so they are refused up front.
 */
export function checkLayout(layout: InstallLayout): InstallLayout {
  for (const [name, value] of Object.entries(layout)) {
    if (!path.posix.isAbsolute(value) || path.posix.normalize(value) !== value || value.length < 2 || value.endsWith('/')) {
      throw new Error(`${name} must be a normalised absolute path without a trailing slash, got ${JSON.stringify(value)}`);
    }
    if (!/^[A-Za-z0-9/._+-]+$/.test(value)) throw new Error(`${name} may use only letters, digits and / . _ + - (systemd unit paths), got ${JSON.stringify(value)}`);
  }
  return layout;
}

/** `StateDirectory=` when the data folder lives under /var/lib: systemd then creates it, owned by the service user. */
function stateDirectory(dataDir: string): string {
  if (dataDir.startsWith('/var/lib/')) return `StateDirectory=${dataDir.slice('/var/lib/'.length)}\nStateDirectoryMode=0750`;
  return `# ${dataDir} is outside /var/lib: the installer creates it, owned by fieldkit-agent.`;
}

/** The systemd unit for `layout`. */
export function renderSystemdUnit(layout: InstallLayout, version: string, arch: AgentArch): string {
  checkLayout(layout);
  const configDir = path.posix.dirname(layout.configPath);
  const values: Record<string, string> = {
    VERSION: version,
    ARCH: arch,
    PREFIX: layout.prefix,
    DATA_DIR: layout.dataDir,
    CONFIG_PATH: layout.configPath,
    CONFIG_DIR: configDir,
    STATE_DIRECTORY: stateDirectory(layout.dataDir),
  };
  const template = readFileSync(path.join(here, 'fieldkit-agent.service.in'), 'utf8');
  const rendered = template.replace(/@([A-Z_]+)@/g, (whole, name: string) => values[name] ?? whole);
  const left = /@[A-Z_]+@/.exec(rendered);
  if (left) throw new Error(`fieldkit-agent.service.in has an unknown placeholder ${left[0]}`);
  return rendered;
}

/** The launcher, `bin/fieldkit-agent`. */
export function launcherScript(): string {
  return readFileSync(path.join(here, 'fieldkit-agent.sh'), 'utf8');
}

/**
 * The example config: every field at its default, so it documents every option, with the
 * identity left to fill in. Parsed by the shared schema, so it cannot drift from it.
 */
export function exampleConfig(layout: InstallLayout): AgentConfig {
  return AgentConfigSchema.parse({ device_id: 'change-me-pi-01', data_dir: layout.dataDir });
}

export function exampleConfigText(layout: InstallLayout): string {
  return JSON.stringify(exampleConfig(layout), null, 2) + '\n';
}
