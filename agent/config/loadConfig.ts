/**
 * The agent's config file: where it is, how it is read (every problem names its field),
 * and how it is rewritten (atomically: a power cut leaves the old file or the new one,
 * never half of either).
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { AgentConfigSchema, type AgentConfig } from '../../shared/agentConfig.ts';
import { appError, fieldPath, FieldkitError } from '../../shared/errors.ts';
import type { ConfigStore } from './configApi.ts';

export const defaultConfigPath = '/etc/fieldkit-agent/config.json';

/** The config path: the --config flag, else $FIELDKIT_AGENT_CONFIG, else the default. */
export function resolveConfigPath(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  if (flag !== undefined && flag !== '') return flag;
  const fromEnv = env.FIELDKIT_AGENT_CONFIG;
  return fromEnv !== undefined && fromEnv !== '' ? fromEnv : defaultConfigPath;
}

function configError(path: string, detail: string, hint: string, field?: string): FieldkitError {
  return new FieldkitError(appError('BAD_REQUEST', `Config ${path}: ${detail}`, hint, field));
}

/** Validates a config value, naming the first offending field. */
export function parseConfig(value: unknown, path: string): AgentConfig {
  const parsed = AgentConfigSchema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const field = issue === undefined ? '' : fieldPath(issue.path);
  const detail = issue === undefined ? 'invalid' : issue.message;
  throw configError(
    path,
    field === '' ? detail : `field '${field}': ${detail}`,
    'Fix that field in the config file (see shared/agentConfig.ts for every field and its default) and start the agent again.',
    field === '' ? undefined : field,
  );
}

/** Reads and validates the config file at `path`. */
export function loadConfig(path: string): AgentConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    throw configError(
      path,
      code === 'ENOENT' ? 'no such file' : `cannot read it (${error instanceof Error ? error.message : String(error)})`,
      `Create it (at least {"device_id": "pi-01"}), or point --config or FIELDKIT_AGENT_CONFIG at the right file.`,
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw configError(path, `not valid JSON (${error instanceof Error ? error.message : String(error)})`, 'Fix the JSON syntax (a JSON linter shows where) and start the agent again.');
  }
  return parseConfig(value, path);
}

/** Writes `text` to `path` so that a crash or power cut leaves either the old or the new file. */
export function writeFileAtomic(path: string, text: string, mode = 0o600): void {
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  try {
    const fd = openSync(temp, 'w', mode);
    try {
      writeSync(fd, text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, path);
  } catch (error) {
    rmSync(temp, { force: true });
    throw error;
  }
  // The rename lives in the directory: sync it too, or a power cut may forget it.
  const dir = openSync(dirname(path), 'r');
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}

/**
 * The config as this process loaded it, and atomic rewrites of the file. The running
 * process keeps the config it started with, so any change says restart_required.
 */
export function createConfigStore(path: string, loaded: AgentConfig = loadConfig(path)): ConfigStore {
  let current = loaded;
  const running = JSON.stringify(loaded);
  return {
    path,
    get: () => current,
    set(config) {
      const valid = parseConfig(config, path);
      try {
        writeFileAtomic(path, `${JSON.stringify(valid, null, 2)}\n`);
      } catch (error) {
        throw new FieldkitError(
          appError('IO_ERROR', `Cannot write the config ${path}: ${error instanceof Error ? error.message : String(error)}`, 'Check that the config folder is writable and the disk is not full.'),
          { cause: error },
        );
      }
      current = valid;
      return { config: valid, restart_required: JSON.stringify(valid) !== running };
    },
  };
}
