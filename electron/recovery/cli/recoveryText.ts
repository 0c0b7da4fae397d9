/** How the recovery commands print points, steps, checks and drill reports. */
import { formatBytes } from '../../../shared/format.ts';
import type { DrillResult, RecoveryCheck, RecoveryRun, RecoveryStep, RestorePoint } from '../../../shared/recovery.ts';
import { repoRoleLabels } from '../../../shared/backup.ts';
import { formatTable } from '../../kernel/cli/formatTable.ts';

const when = (ms: number) => new Date(ms).toISOString().replace('T', ' ').slice(0, 19);
const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

export function pointsText(points: readonly RestorePoint[], deviceName: string): string {
  if (points.length === 0) return `${deviceName} has no restore point: back it up first (fieldkit backup ${deviceName}).`;
  return formatTable(points, [
    { header: '', value: (p: RestorePoint) => (p.proposed ? '→' : '') },
    { header: 'POINT', value: (p: RestorePoint) => p.id },
    { header: 'TIME', value: (p: RestorePoint) => when(p.time) },
    { header: 'CLASSES', value: (p: RestorePoint) => p.classes.map((c) => `${c.class} ${c.resticId.slice(0, 8)}`).join(', ') },
    { header: 'SIZE', value: (p: RestorePoint) => formatBytes(p.sizeBytes), align: 'right' as const },
    { header: 'AGENT', value: (p: RestorePoint) => p.agentVersion ?? '—' },
    { header: 'IMAGE', value: (p: RestorePoint) => p.imageVersion ?? '—' },
    { header: 'MODEL', value: (p: RestorePoint) => p.modelVersion ?? '—' },
    { header: 'COPIES', value: (p: RestorePoint) => p.copies.map((c) => repoRoleLabels[c]).join(', ') },
    { header: 'VERIFIED', value: (p: RestorePoint) => (p.lastVerification === null ? 'never' : `${p.lastVerification.ok ? 'ok' : 'FAILED'} ${when(p.lastVerification.at)}${p.lastVerification.unverified.length > 0 ? ` (not: ${p.lastVerification.unverified.join(', ')})` : ''}`) },
  ]) + `\n${points.some((p) => p.proposed) ? '→ proposed: the newest restore point verified good.' : 'No restore point is verified yet (fieldkit backup verify); a restore checks its snapshot first anyway.'}`;
}

export function stepsText(steps: readonly RecoveryStep[]): string {
  return formatTable(steps, [
    { header: 'STEP', value: (s: RecoveryStep) => s.title },
    { header: 'STATUS', value: (s: RecoveryStep) => s.status },
    { header: 'TIME', value: (s: RecoveryStep) => secs(s.durationMs), align: 'right' as const },
  ]);
}

export function checksText(checks: readonly RecoveryCheck[]): string {
  return checks.map((c) => `${c.ok ? 'ok    ' : 'FAILED'} ${c.name}: ${c.detail}`).join('\n');
}

export function drillText(d: DrillResult): string {
  const rpo = d.rpo;
  return [
    `Drill of ${d.deviceName} onto ${d.spareName}: ${d.ok ? 'PASSED' : 'FAILED'}`,
    `RTO ${secs(d.rtoMs)} (start to healthy)`,
    `RPO: restored state ${secs(rpo.ageSeconds * 1000)} old (journal seq ${rpo.restoredJournalSeq === null ? '?' : String(rpo.restoredJournalSeq)}); records after it: ${rpo.recordsAfterOnLaptop === null ? '?' : String(rpo.recordsAfterOnLaptop)} on the laptop, ${rpo.recordsAfterOnDevice === null ? '?' : String(rpo.recordsAfterOnDevice)} on the device as of its last pull`,
    '',
    stepsText(d.steps),
    '',
    checksText(d.checks),
    '',
    ...d.comparison.map((c) => `${c.ok ? 'same  ' : 'DIFFERS'} ${c.metric}: source ${c.source ?? '—'}, restored ${c.restored ?? '—'}`),
  ].join('\n');
}

export function historyText(runs: readonly RecoveryRun[]): string {
  if (runs.length === 0) return 'No restore or drill yet.';
  return formatTable(runs, [
    { header: 'ID', value: (r: RecoveryRun) => String(r.id) },
    { header: 'KIND', value: (r: RecoveryRun) => r.kind },
    { header: 'DEVICE', value: (r: RecoveryRun) => (r.targetName === r.deviceName ? r.deviceName : `${r.deviceName} → ${r.targetName}`) },
    { header: 'WHEN', value: (r: RecoveryRun) => when(r.endedAt) },
    { header: 'OK', value: (r: RecoveryRun) => (r.ok ? 'yes' : 'NO') },
    { header: 'RTO', value: (r: RecoveryRun) => (r.rtoMs === null ? '—' : secs(r.rtoMs)), align: 'right' as const },
    { header: 'RUNBOOK', value: (r: RecoveryRun) => r.runbookPath ?? '—' },
  ]);
}
