import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createConfigStore, defaultConfigPath, loadConfig, resolveConfigPath } from '../../agent/config/loadConfig.ts';
import { AgentConfigSchema, type AgentConfig } from '../../shared/agentConfig.ts';
import { isFieldkitError } from '../../shared/errors.ts';
import { makeTempDir } from '../support/tempDir.ts';

describe('agent config file', () => {
  const cleanups: (() => void)[] = [];
  afterEach(() => {
    for (const c of cleanups.splice(0)) c();
  });
  function dir(): string {
    const d = makeTempDir('fieldkit-agent-config-');
    cleanups.push(() => { d.remove(); });
    return d.path;
  }
  function caught(fn: () => unknown): unknown {
    try {
      fn();
    } catch (error) {
      return error;
    }
    throw new Error('expected a throw');
  }

  it('finds the config from the flag, then the environment, then the default', () => {
    expect(resolveConfigPath('/a.json', { FIELDKIT_AGENT_CONFIG: '/b.json' })).toBe('/a.json');
    expect(resolveConfigPath(undefined, { FIELDKIT_AGENT_CONFIG: '/b.json' })).toBe('/b.json');
    expect(resolveConfigPath(undefined, {})).toBe(defaultConfigPath);
    expect(defaultConfigPath).toBe('/etc/fieldkit-agent/config.json');
  });

  it('fills defaults, and names the field at fault', () => {
    const d = dir();
    const path = join(d, 'config.json');
    writeFileSync(path, JSON.stringify({ device_id: 'pi-07' }));
    expect(loadConfig(path)).toMatchObject({ device_id: 'pi-07', ingest: { host: '127.0.0.1', port: 8787 }, mqtt: null, retention: { max_age_days: null } });
    writeFileSync(path, JSON.stringify({ device_id: 'pi-07', mqtt: { subscriptions: [{ topic: 't', kind: 'Bad Kind', priority: 1 }] } }));
    const error = caught(() => loadConfig(path));
    expect(isFieldkitError(error) && error.appError).toMatchObject({ code: 'BAD_REQUEST', field: 'mqtt.subscriptions.0.kind' });
    writeFileSync(path, JSON.stringify({ device_id: 'pi-07', colour: 'red' }));
    expect(isFieldkitError(caught(() => loadConfig(path)))).toBe(true);
  });

  it('rewrites atomically (0600, no temp file left), refuses an invalid config without touching the file, and says when a restart is needed', () => {
    const d = dir();
    const path = join(d, 'config.json');
    writeFileSync(path, JSON.stringify({ device_id: 'pi-07' }));
    const store = createConfigStore(path);
    const current: AgentConfig = store.get();
    expect(store.set(current)).toMatchObject({ restart_required: false });
    const changed = store.set({ ...current, site: 'north-field' });
    expect(changed.restart_required).toBe(true);
    expect(store.get().site).toBe('north-field');
    expect(AgentConfigSchema.parse(JSON.parse(readFileSync(path, 'utf8'))).site).toBe('north-field');
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readdirSync(d)).toEqual(['config.json']);

    const before = readFileSync(path, 'utf8');
    const refused = caught(() => store.set({ ...current, ingest: { ...current.ingest, port: 0 } }));
    expect(isFieldkitError(refused) && refused.appError.field).toBe('ingest.port');
    expect(readFileSync(path, 'utf8')).toBe(before);
    expect(readdirSync(d)).toEqual(['config.json']);
  });
});
