/**
 * The runbook of a restore, drill or replace: Markdown written from what actually ran (the
 * recorded steps, the exact commands, their timings and exit codes, the checks), saved in the
 * data folder under runbooks/, so the next recovery follows what worked, not memory.
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RecoveryCheck, RecoveryKind, RecoveryStep, Rpo } from '../../shared/recovery.ts';

export type RunbookInput = {
  kind: RecoveryKind;
  deviceName: string;
  targetName: string;
  pointId: string;
  pointTime: number;
  classes: readonly string[];
  startedAt: number;
  ok: boolean;
  error: string | null;
  steps: readonly RecoveryStep[];
  checks: readonly RecoveryCheck[];
  rtoMs: number | null;
  rpo: Rpo | null;
  comparison?: readonly { metric: string; source: string | null; restored: string | null; ok: boolean }[];
};

const titles: Record<RecoveryKind, string> = { restore: 'Restore', drill: 'Restore drill', replace: 'Replace' };

function iso(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').slice(0, 19);
}

function secs(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

function cell(text: string): string {
  return text.replaceAll('|', '\\|').replaceAll('\n', ' ');
}

export function runbookMarkdown(r: RunbookInput): string {
  const lines = [
    `# ${titles[r.kind]}: ${r.deviceName}${r.targetName === r.deviceName ? '' : ` onto ${r.targetName}`}`,
    '',
    `- Started: ${iso(r.startedAt)} UTC`,
    `- Outcome: ${r.ok ? 'passed' : `FAILED${r.error === null ? '' : ` — ${r.error}`}`}`,
    `- Restore point: ${r.pointId} (state as of ${iso(r.pointTime)} UTC), classes ${r.classes.join(', ')}`,
  ];
  if (r.rtoMs !== null) lines.push(`- RTO (start to healthy): ${secs(r.rtoMs)}`);
  if (r.rpo !== null) {
    const after = [r.rpo.recordsAfterOnLaptop === null ? null : `${String(r.rpo.recordsAfterOnLaptop)} records pulled to the laptop after it`, r.rpo.recordsAfterOnDevice === null ? null : `${String(r.rpo.recordsAfterOnDevice)} on the device after it (as of its last pull)`].filter((x) => x !== null);
    lines.push(`- RPO: the restored state is ${secs(r.rpo.ageSeconds * 1000)} old (journal seq ${r.rpo.restoredJournalSeq === null ? '?' : String(r.rpo.restoredJournalSeq)})${after.length === 0 ? '' : `; ${after.join(', ')}`}`);
  }
  lines.push('', '## Steps', '', '| # | Step | Status | Time | Detail |', '|---|------|--------|------|--------|');
  r.steps.forEach((s, i) => lines.push(`| ${String(i + 1)} | ${cell(s.title)} | ${s.status} | ${secs(s.durationMs)} | ${cell(s.detail ?? '')} |`));
  lines.push('', '## Commands, as run', '');
  r.steps.forEach((s, i) => {
    if (s.commands.length === 0) return;
    lines.push(`### ${String(i + 1)}. ${s.title}`, '', '```sh');
    for (const c of s.commands) lines.push(`# on ${c.on}, ${iso(c.startedAt)}, ${secs(c.durationMs)}, exit ${c.exitCode === null ? 'none' : String(c.exitCode)}`, c.command);
    lines.push('```', '');
  });
  if (r.checks.length > 0) {
    lines.push('## Checks', '');
    for (const c of r.checks) lines.push(`- ${c.ok ? '✓' : '✗'} **${c.name}**: ${c.detail}`);
    lines.push('');
  }
  if (r.comparison !== undefined && r.comparison.length > 0) {
    lines.push('## Compared with the source', '', '| Metric | Source (last known) | Restored | |', '|---|---|---|---|');
    for (const c of r.comparison) lines.push(`| ${cell(c.metric)} | ${cell(c.source ?? '—')} | ${cell(c.restored ?? '—')} | ${c.ok ? 'ok' : 'differs'} |`);
    lines.push('');
  }
  return `${lines.join('\n')}\n`;
}

/** Writes it under <dataDir>/runbooks/ (temp name, then rename: never a half file); answers the path. */
export function saveRunbook(dataDir: string, r: RunbookInput): string {
  const dir = join(dataDir, 'runbooks');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const stamp = new Date(r.startedAt).toISOString().replace(/[:.]/g, '-');
  const path = join(dir, `${stamp}-${r.kind}-${r.deviceName.replace(/[^A-Za-z0-9._-]/g, '_')}.md`);
  writeFileSync(`${path}.tmp`, runbookMarkdown(r), { mode: 0o600 });
  renameSync(`${path}.tmp`, path);
  return path;
}
