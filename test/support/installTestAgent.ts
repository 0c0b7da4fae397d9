/**
 * Installs the real agent (bundled exactly as the release bundle is, with Node 24 beside
 * it) into a temporary prefix, laid out as deploy lays it out (`<prefix>/current/bin/
 * fieldkit-agent`), owned by a given user, for tests that reach it over SSH or serial.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bundleAgentCode } from '../../build/agent/bundleAgentCode.ts';
import { launcherScript } from '../../build/agent/installFiles.ts';

let bundled: Promise<string> | null = null;
const bundleDir = mkdtempSync('/tmp/fieldkit-agent-code-');

/** One esbuild run per test process. */
function agentCode(): Promise<string> {
  bundled ??= bundleAgentCode(join(bundleDir, 'agent.mjs')).then((code) => code.file);
  return bundled;
}

export type TestAgentInstall = { prefix: string; configPath: string; dataDir: string; deviceId: string; remove(): void };

export async function installTestAgent(options: { deviceId: string; owner?: string; config?: Record<string, unknown> }): Promise<TestAgentInstall> {
  const prefix = mkdtempSync('/tmp/fieldkit-prefix-');
  chmodSync(prefix, 0o755);
  const current = join(prefix, 'current');
  for (const dir of ['bin', 'lib', 'node/bin']) mkdirSync(join(current, dir), { recursive: true });
  copyFileSync(await agentCode(), join(current, 'lib', 'agent.mjs'));
  copyFileSync(process.execPath, join(current, 'node', 'bin', 'node'));
  chmodSync(join(current, 'node', 'bin', 'node'), 0o755);
  writeFileSync(join(current, 'bin', 'fieldkit-agent.real'), launcherScript(), { mode: 0o755 });
  const dataDir = join(prefix, 'data');
  mkdirSync(dataDir);
  const configPath = join(prefix, 'config.json');
  writeFileSync(configPath, JSON.stringify({ device_id: options.deviceId, data_dir: dataDir, site: 'test', ...options.config }, null, 2));
  // The real launcher finds its runtime beside itself; this wrapper only adds the config
  // path, which a real install keeps at /etc/fieldkit-agent/config.json.
  writeFileSync(
    join(current, 'bin', 'fieldkit-agent'),
    `#!/bin/sh\nexec "$(dirname "$(readlink -f "$0")")/fieldkit-agent.real" --config ${configPath} "$@"\n`,
    { mode: 0o755 },
  );
  if (options.owner) execFileSync('chown', ['-R', `${options.owner}:`, prefix]);
  return { prefix, configPath, dataDir, deviceId: options.deviceId, remove: () => { rmSync(prefix, { recursive: true, force: true }); } };
}
