/**
 * `fieldkit-agent backup-probe --classes C,C… [--path C=/abs]… --json`: each class's change
 * token (changeToken.ts) as one JSON line (shared/backupProbe.ts). A class whose token could
 * not be computed says why; the laptop then streams it and the stream reports the error.
 */
import type { AgentConfig } from '../../shared/agentConfig.ts';
import type { BackupProbe } from '../../shared/backupProbe.ts';
import { BackupClassSchema, type BackupClass } from '../../shared/backupStream.ts';
import { classChangeToken } from './changeToken.ts';

/** The JSON to print, or the usage error to report (exit 2). */
export function probeClasses(options: { config: AgentConfig; configPath: string; agentVersion: string; classes: string; paths: readonly string[] }): { output: string } | { usage: string } {
  const wanted = options.classes.split(',').filter((c) => c !== '');
  const parsed = wanted.map((c) => BackupClassSchema.safeParse(c));
  if (wanted.length === 0 || parsed.some((p) => !p.success)) return { usage: `backup-probe needs --classes with config, state, data or secrets${options.classes === '' ? '' : `, not '${options.classes}'`}` };
  const extra = new Map<BackupClass, string[]>();
  for (const p of options.paths) {
    const match = /^(config|state|data|secrets)=(\/.*)$/.exec(p);
    const cls = BackupClassSchema.safeParse(match?.[1]);
    if (!cls.success || match?.[2] === undefined) return { usage: `backup-probe --path takes <class>=/absolute/path, not '${p}'` };
    extra.set(cls.data, [...(extra.get(cls.data) ?? []), match[2]]);
  }
  const classes: BackupProbe['classes'] = {};
  for (const p of parsed) {
    if (!p.success) continue;
    try {
      classes[p.data] = { token: classChangeToken(p.data, { config: options.config, configPath: options.configPath, extraPaths: extra.get(p.data) ?? [], agentVersion: options.agentVersion }) };
    } catch (error) {
      classes[p.data] = { error: error instanceof Error ? error.message : String(error) };
    }
  }
  return { output: `${JSON.stringify({ formatVersion: 1, probedAt: Date.now(), classes } satisfies BackupProbe)}\n` };
}
